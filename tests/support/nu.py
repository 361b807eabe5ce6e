"""The Nu HTML Checker (the `vnu-jar` npm package, run by Java) over a folder of documents.

`make test` installs it into tests/tools/node_modules (scripts/ensure-test-tools.sh). One
checker run reads every file of a folder: starting Java once per page would cost seconds each.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JAR = ROOT / "tests" / "tools" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
CI = os.environ.get("CI", "").lower() == "true"


def _java() -> str | None:
    return shutil.which("java")


def require_checker() -> None:
    """Skip locally without the checker; under CI=true its absence fails the test."""
    missing = []
    if not _java():
        missing.append("Java (sudo apt-get install default-jre-headless)")
    if not JAR.exists():
        missing.append("vnu.jar (npm ci --prefix tests/tools)")
    if missing:
        message = ("The Nu HTML Checker needs " + " and ".join(missing)
                   + "; `make test` installs them.")
        if CI:
            pytest.fail(message)
        pytest.skip(message)


class Documents:
    """Pages saved under readable names, checked together; messages come back per name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: dict[str, str] = {}  # file name -> what it is (URL and state)

    def add(self, label: str, html: str) -> None:
        stem = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")[:80] or "page"
        name = f"{len(self.names):03d}-{stem}.html"
        (self.folder / name).write_text(html, encoding="utf-8")
        self.names[name] = label

    def add_fragment(self, label: str, fragment: str) -> None:
        """An htmx fragment checked inside a bare document, as it is once swapped in."""
        title = re.match(r"\s*<title>[^<]*</title>", fragment)
        body = fragment[title.end():] if title else fragment
        self.add(label, '<!doctype html><html lang="es-MX"><head><meta charset="utf-8">'
                        f"<title>fragmento</title></head><body><main>{body}</main></body></html>")

    def errors(self) -> dict[str, list[str]]:
        """Every error and warning the checker reports, keyed by the page's label."""
        require_checker()
        assert self.names, "no documents to check"
        done = subprocess.run(
            [_java(), "-Xss4m", "-jar", str(JAR), "--format", "json", "--also-check-svg",
             str(self.folder)],
            capture_output=True, text=True, timeout=600, check=False,
        )
        # 0: nothing found, 1: problems found; anything else (or no report) is the checker
        # failing, which must never read as "0 errors".
        assert done.returncode in (0, 1) and done.stderr.strip(), (
            f"the Nu HTML Checker did not run (exit {done.returncode}): {done.stderr[-2000:]}"
        )
        report = json.loads(done.stderr)
        assert "messages" in report, report
        found: dict[str, list[str]] = defaultdict(list)
        for message in report["messages"]:
            if message.get("type") == "info" and message.get("subType") != "warning":
                continue
            name = Path(message.get("url", "")).name
            label = self.names.get(name, name)
            found[label].append(f"line {message.get('lastLine', '?')}: {message['message']}")
        return dict(found)


def describe(found: dict[str, list[str]]) -> str:
    lines = [f"{sum(map(len, found.values()))} problem(s) on {len(found)} page(s):"]
    for label, messages in found.items():
        lines.append(f"  {label}")
        lines.extend(f"      {text}" for text in messages[:8])
    return "\n".join(lines)
