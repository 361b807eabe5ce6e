"""Photos: judged by content, re-encoded small, stripped of every piece of metadata."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from ov.services import photos
from tests.support import images


def reopen(prepared: photos.Prepared) -> Image.Image:
    image = Image.open(BytesIO(prepared.jpeg))
    image.load()
    return image


def test_a_phone_photo_is_shrunk_and_loses_its_exif_and_gps():
    original = images.photo(4000, 3000, noise=True)
    assert len(original) > 4 * 1024 * 1024  # as heavy as a real phone photo
    prepared = photos.prepare(BytesIO(original))
    kept = reopen(prepared)
    assert kept.format == "JPEG"
    assert max(kept.size) == photos.MAX_SIDE
    assert (prepared.width, prepared.height) == kept.size == (1600, 1200)
    assert not kept.getexif()
    assert "exif" not in kept.info and "comment" not in kept.info
    assert "icc_profile" not in kept.info
    assert b"TelefonoDePrueba" not in prepared.jpeg and b"camara" not in prepared.jpeg
    assert len(prepared.jpeg) < len(original) / 4


def test_the_photo_is_turned_upright_from_its_exif_orientation():
    # Orientation 6: the camera was held sideways; the kept photo is portrait.
    prepared = photos.prepare(BytesIO(images.photo(800, 600, orientation=6)))
    assert (prepared.width, prepared.height) == (600, 800)


def test_a_png_is_accepted_and_kept_as_jpeg():
    prepared = photos.prepare(BytesIO(images.photo(500, 400, kind="PNG")))
    assert reopen(prepared).format == "JPEG"
    assert (prepared.width, prepared.height) == (500, 400)  # small ones keep their size


def test_a_transparent_png_is_flattened_on_white():
    out = BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(out, "PNG")
    kept = reopen(photos.prepare(BytesIO(out.getvalue())))
    assert kept.convert("RGB").getpixel((5, 5)) >= (250, 250, 250)


def test_a_script_in_or_after_a_jpeg_does_not_survive():
    prepared = photos.prepare(BytesIO(images.script_in_jpeg()))
    assert b"script" not in prepared.jpeg.lower()
    assert b"<html" not in prepared.jpeg.lower()


@pytest.mark.parametrize("content", [images.html_named_jpeg(), b"", b"GIF89a" + b"\0" * 40,
                                     b"%PDF-1.7\n"])
def test_anything_but_jpeg_or_png_is_refused_with_a_spanish_message(content):
    with pytest.raises(photos.PhotoError, match="no es una foto JPEG o PNG"):
        photos.prepare(BytesIO(content))


def test_a_gif_is_refused_even_though_pillow_reads_it():
    out = BytesIO()
    Image.new("RGB", (20, 20)).save(out, "GIF")
    with pytest.raises(photos.PhotoError, match="JPEG o PNG"):
        photos.prepare(BytesIO(out.getvalue()))


def test_a_truncated_photo_is_refused_as_damaged():
    with pytest.raises(photos.PhotoError, match="dañada o incompleta"):
        photos.prepare(BytesIO(images.truncated_jpeg()))


def test_a_photo_declaring_too_many_pixels_is_refused_before_decoding():
    out = BytesIO()
    Image.new("1", (5000, 5000)).save(out, "PNG")  # 25 megapixels in a few KB
    assert len(out.getvalue()) < 100_000
    with pytest.raises(photos.PhotoError, match="demasiados píxeles"):
        photos.prepare(BytesIO(out.getvalue()))


def test_a_progressive_jpeg_has_the_limit_of_a_photo_decoded_whole(monkeypatch):
    out = BytesIO()
    Image.new("RGB", (300, 200)).save(out, "JPEG", progressive=True)
    assert photos.prepare(BytesIO(out.getvalue())).width == 300
    monkeypatch.setattr(photos, "MAX_PNG_PIXELS", 300 * 200 - 1)
    with pytest.raises(photos.PhotoError, match="demasiados píxeles"):
        photos.prepare(BytesIO(out.getvalue()))
    baseline = BytesIO()
    Image.new("RGB", (300, 200)).save(baseline, "JPEG")
    assert photos.prepare(BytesIO(baseline.getvalue())).width == 300  # not that limit
