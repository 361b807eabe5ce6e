"""`make run`: the banner says which page to open first and where the mails are written,
on the port it serves, and the app is told that port (its mail links use it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def make(*args: str) -> str:
    if shutil.which("make") is None:
        pytest.fail("GNU make is needed: `sudo apt-get install make`")
    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args],
                          capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


def test_the_banner_names_the_first_pages_and_the_mail_folder_on_the_port():
    banner = make("-s", "banner", "PORT=5055")
    assert "http://127.0.0.1:5055/registro/paso-1" in banner
    assert "http://127.0.0.1:5055/entrar" in banner
    assert "instance/mail/" in banner and ".eml" in banner
    assert "Nuevo Laredo" in banner and "8295249" in banner and "ZE40389382" in banner
    assert "5000" not in banner


def test_make_run_hands_its_port_to_the_app_and_prints_the_banner():
    plan = make("-n", "run", "PORT=5055")
    assert "PORT=5055 " in plan and "run --host 127.0.0.1 --port 5055" in plan
    assert "http://127.0.0.1:5055/registro/paso-1" in plan
