"""Reading a duplicate's barcode as a phone camera or a store scanner would: render the PDF
with poppler's ``pdftoppm`` at 200 dpi and decode it with ZBar's ``zbarimg``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CI = os.environ.get("CI", "").lower() == "true"
ZBAR_NOTHING_FOUND = 4


def tool(name: str) -> str:
    """The path of a command-line tool; under CI=true a missing one fails the test."""
    path = shutil.which(name)
    if path:
        return path
    message = (
        f"`{name}` is not installed: the barcode tests need it. "
        "Install Debian's packages: `apt-get install zbar-tools poppler-utils`."
    )
    if CI:
        pytest.fail(message)
    pytest.skip(message)


def scan(pdf: bytes, folder: Path) -> subprocess.CompletedProcess[str]:
    """Rasterise the page at 200 dpi and run zbarimg on it (exit 4: no barcode found)."""
    pdftoppm, zbarimg = tool("pdftoppm"), tool("zbarimg")
    source = folder / "duplicado.pdf"
    source.write_bytes(pdf)
    subprocess.run([pdftoppm, "-r", "200", "-png", str(source), str(folder / "page")],
                   check=True, capture_output=True, timeout=60)
    pages = sorted(folder.glob("page*.png"))
    assert len(pages) == 1
    return subprocess.run([zbarimg, "--raw", "-q", str(pages[0])], capture_output=True,
                          text=True, timeout=60)
