"""App servers for the tests that need them: gunicorn with ov.gunicorn_config (and, in
tests/http/test_deploy_nginx.py, nginx in front), each on a free port of 127.0.0.1, started
by the test and stopped by it. Start-up waits on events (the port answering, the process
ending), bounded by a generous overall limit."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: The longest a server may take to come up on a busy shared machine.
START_LIMIT = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without its OV_* settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OV_", "FLASK_", "PYTHONWARNINGS"))}
    env.update(settings)
    return env


def migrate(env: dict[str, str]) -> None:
    """``flask --app ov db upgrade``, as the deployment does before starting the app."""
    done = subprocess.run([str(BIN / "flask"), "--app", "ov", "db", "upgrade"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def wait_until(ready, process: subprocess.Popen | None, log: Path | None, what: str) -> None:
    """Poll ``ready()`` until it is true; fail at once if ``process`` ended meanwhile."""
    deadline = time.monotonic() + START_LIMIT
    while not ready():
        if process is not None and process.poll() is not None:
            text = log.read_text(errors="replace") if log else ""
            raise AssertionError(f"{what} ended with status {process.returncode}:\n{text}")
        if time.monotonic() > deadline:
            text = log.read_text(errors="replace") if log else ""
            raise AssertionError(f"{what} did not come up within {START_LIMIT} s:\n{text}")
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (http only)
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # gunicorn and nginx: graceful (SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def gunicorn(env: dict[str, str], log: Path, port: int | None = None) -> Iterator[str]:
    """gunicorn -c python:ov.gunicorn_config 'ov:create_app()' on 127.0.0.1; yields its URL."""
    port = port or free_port()
    env = {"OV_WORKERS": "1", "OV_THREADS": "4", **env, "OV_BIND": f"127.0.0.1:{port}"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:ov.gunicorn_config", "ov:create_app()"],
            env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url + "/healthz"), process, log, "gunicorn")
        yield url
    finally:
        stop(process)


def audit_addresses(database: Path, kind: str) -> list[str | None]:
    """The client addresses the audit table holds for ``kind``, oldest first (SQLite)."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT client_address FROM audit_event WHERE kind = ? ORDER BY id", (kind,)
        ).fetchall()
    connection.close()
    return [row[0] for row in rows]
