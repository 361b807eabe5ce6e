"""Shared by the benchmarks: each one rewrites only its own section of docs/performance.md.

A section is the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` (each
marker on a line of its own). ``replace_section(path, name, markdown)`` puts ``markdown``
between the two markers, appends the section at the end of the file if it is not there yet,
creates the file if needed, and leaves every other byte of the file as it was. So several
benchmarks, run separately or by ``bench/run_all.py``, can share one document.

``run_header(command)`` gives the lines every section starts with: the exact command, the
date, the git commit and the machine (CPU model and count).
"""

from __future__ import annotations

import datetime
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PERFORMANCE = ROOT / "docs" / "performance.md"
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _markers(name: str) -> tuple[str, str]:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"section name must be lowercase words and hyphens: {name!r}")
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def replace_section(path: str | os.PathLike, name: str, markdown: str) -> None:
    """Write ``markdown`` as the section ``name`` of the Markdown file at ``path``."""
    start, end = _markers(name)
    if start in markdown or end in markdown:
        raise ValueError(f"the text of section {name!r} holds its own markers")
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    body = markdown if markdown.endswith("\n") else markdown + "\n"
    block = f"{start}\n{body}{end}"
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == start]
    ends = [i for i, line in enumerate(lines) if line.strip() == end]
    if not starts and not ends:
        if text and not text.endswith("\n"):
            text += "\n"
        new = f"{text}\n{block}\n" if text else f"{block}\n"
    elif len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0]:
        first, last = starts[0], ends[0]
        tail = "\n" if lines[last].endswith("\n") else ""
        new = "".join(lines[:first]) + block + tail + "".join(lines[last + 1:])
    else:
        raise ValueError(f"{path}: the markers of section {name!r} are missing, repeated "
                         "or out of order; fix them by hand")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(new, encoding="utf-8")
    os.replace(temporary, path)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine() -> str:
    """CPU model and count, from /proc/cpuinfo and nproc."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        nproc = str(os.cpu_count())
    return f"{model}, nproc {nproc}"


def commit() -> str:
    """The commit measured, marked ``+changes`` when the work tree differs from it."""
    head = _git("rev-parse", "--short=12", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "ov")
    return f"{head}+changes" if dirty and dirty != "?" else head


def command_line(argv: list[str] | None = None) -> str:
    """The command that is running, as one would type it again from the repository root."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]).resolve()
    if script.is_relative_to(ROOT):
        argv[0] = str(script.relative_to(ROOT))
    return shlex.join([".venv/bin/python", *argv])


def _no_password(value: str) -> str:
    """A URL's password, if it has one, replaced by ``***``."""
    return re.sub(r"(//[^/:@]+):[^/@]+@", r"\1:***@", value)


def run_header(command: str, env_names: tuple[str, ...] = ()) -> str:
    """Markdown lines naming the command, the settings it read, date, commit and machine."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    settings = " ".join(f"{name}={shlex.quote(_no_password(os.environ[name]))}"
                        for name in env_names if os.environ.get(name))
    full = f"{settings} {command}" if settings else command
    return (f"- Command: `{full}`\n- Date: {now}; commit `{commit()}`\n"
            f"- Machine: {machine()}\n")
