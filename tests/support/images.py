"""Image files a test sends as uploads: phone photos with EXIF (GPS included), PNGs, and
files that only pretend to be photos."""

from __future__ import annotations

import random
from io import BytesIO

from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def photo(width: int = 1200, height: int = 900, *, kind: str = "JPEG", gps: bool = True,
          orientation: int | None = None, noise: bool = False, quality: int = 90) -> bytes:
    """A picture of a "meter" as a phone would send it; with ``noise``, hard to compress
    (a real photo's size); ``gps`` adds a location in its EXIF."""
    image = Image.new("RGB", (width, height), (236, 236, 230))
    if noise:
        rng = random.Random(width * height)
        image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    image.paste((20, 20, 20), (width // 4, height // 3, width * 3 // 4, height * 2 // 3))
    out = BytesIO()
    if kind == "PNG":
        image.save(out, "PNG")
        return out.getvalue()
    exif = Image.Exif()
    exif[MAKE] = "TelefonoDePrueba"
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (27.0, 29.0, 12.0), 3: "W", 4: (99.0, 30.0, 36.0)}
    image.save(out, "JPEG", exif=exif, quality=quality, comment=b"camara de prueba")
    return out.getvalue()


def script_in_jpeg() -> bytes:
    """A real JPEG with HTML and a script after its end and in its comment: a polyglot a
    browser sniffing the type could run."""
    out = BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(
        out, "JPEG", comment=b"<script>alert('comentario')</script>")
    return out.getvalue() + b"<html><script>alert('despues')</script></html>"


def html_named_jpeg() -> bytes:
    """No image at all: what a disguised upload holds under ``foto.jpg``, ``image/jpeg``."""
    return b"<!doctype html><title>x</title><script>alert(1)</script>"


def truncated_jpeg() -> bytes:
    whole = photo(400, 300, gps=False)
    return whole[: len(whole) // 2]
