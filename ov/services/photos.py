"""Photos customers send (their meter, a claim's evidence): judged, re-encoded, kept, shown.

A photo is judged by its content, never by its name or declared type: Pillow must recognise
it as JPEG or PNG. It is then decoded (a JPEG at a reduced scale straight from its DCT
coefficients, so a 12-megapixel phone photo never becomes 36 MB of pixels), turned upright
from its EXIF orientation, shrunk to at most ``MAX_SIDE`` pixels and written again as a new
JPEG. Nothing of the original file survives: no EXIF (GPS included), no comments, no colour
profile, nothing appended after the image (where a "JPEG" may hide a script).

The file is kept under ``OV_UPLOAD_DIR`` with a random name the server chose; the ``photo``
row says whose it is, and it is served only to them (ov.blueprints.office.photos).
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import delete, exists, select

from ov.extensions import db
from ov.models import Photo, ReadingSubmission, ServiceRequest, UserAccount, utcnow

#: The longest side of a kept photo: enough to read a meter's digits.
MAX_SIDE = 1600
#: The most pixels a baseline JPEG may declare (it is decoded at a reduced scale), and a PNG
#: or a progressive JPEG (decoded whole: 20 megapixels are 60 MB of pixels at most).
MAX_JPEG_PIXELS = 80_000_000
MAX_PNG_PIXELS = 20_000_000
QUALITY = 78


class PhotoError(ValueError):
    """A file that is not a photo the portal can keep; the message says why, in Spanish."""


@dataclass(frozen=True)
class Prepared:
    """A photo re-encoded by the portal, ready to be kept."""

    jpeg: bytes
    width: int
    height: int


NOT_A_PHOTO = ("El archivo no es una foto JPEG o PNG. Toma la foto con la cámara de tu "
               "teléfono o elige una foto JPEG o PNG.")
DAMAGED = "La foto está dañada o incompleta. Tómala o elígela de nuevo."
TOO_MANY_PIXELS = ("La foto es demasiado grande (tiene demasiados píxeles). Tómala con la "
                   "cámara de tu teléfono en su tamaño normal.")


def prepare(stream: BinaryIO) -> Prepared:
    """Judge and re-encode an uploaded file; :class:`PhotoError` if it is no usable photo."""
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            # A "decompression bomb" is refused below by its size, with our own message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=("JPEG", "PNG"))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise PhotoError(NOT_A_PHOTO) from exc
    with image:
        width, height = image.size
        # A progressive JPEG is decoded whole (every coefficient is kept until the last
        # scan) whatever the scale asked for: it has the PNG's limit.
        baseline = image.format == "JPEG" and not image.info.get("progressive")
        limit = MAX_JPEG_PIXELS if baseline else MAX_PNG_PIXELS
        if width < 1 or height < 1 or width * height > limit:
            raise PhotoError(TOO_MANY_PIXELS)
        if image.format == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 scale when that still leaves MAX_SIDE pixels.
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image.load()
                upright = ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise PhotoError(DAMAGED) from exc
    picture = _flatten(upright)
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # Pillow carries the original's comment, EXIF and profile along in ``info`` and writes
    # some of them back on save: the new file starts from the pixels alone.
    picture.info = {}
    out = BytesIO()
    # No exif=, icc_profile= or comment=: the new file carries none of the old metadata.
    picture.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    return Prepared(out.getvalue(), picture.width, picture.height)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels; a transparent PNG on white, as it would look printed."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, "white")
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")


def upload_dir() -> Path:
    return Path(current_app.config["OV_UPLOAD_DIR"])


def path_of(photo: Photo) -> Path:
    return upload_dir() / photo.stored_name


def keep(prepared: Prepared, *, user_id: int, account_id: int) -> Photo:
    """Write the file under a name the server chose and add its row (flushed; callers
    commit). The file is complete on disk before the row exists."""
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    scratch = folder / f".{name}.part"
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(prepared.jpeg)
    os.replace(scratch, folder / name)
    photo = Photo(user_id=user_id, account_id=account_id, stored_name=name,
                  byte_size=len(prepared.jpeg), width=prepared.width, height=prepared.height)
    db.session.add(photo)
    db.session.flush()
    return photo


def discard(photos: Iterable[Photo]) -> None:
    """Remove the files of photos whose rows are going (or never made it)."""
    remove_files([photo.stored_name for photo in photos])


def remove_files(names: Iterable[str]) -> None:
    folder = upload_dir()
    for name in names:
        (folder / name).unlink(missing_ok=True)


def _attached():
    """SQL: the photo is part of a reading or a request."""
    return (exists().where(ReadingSubmission.photo_id == Photo.id)
            | exists().where(ServiceRequest.photo_id == Photo.id))


def is_attached(photo: Photo) -> bool:
    return bool(db.session.scalar(select(_attached()).where(Photo.id == photo.id)))


def prune(older_than: timedelta = timedelta(days=1),
          now: datetime | None = None) -> list[str]:
    """Remove photos kept for a form that was never sent (nothing attached them) once they
    are ``older_than``; the names of their files. The caller commits, then removes the files
    (:func:`remove_files`)."""
    cutoff = (now or utcnow()) - older_than
    loose = list(db.session.scalars(
        select(Photo).where(Photo.created_at < cutoff, ~_attached()).order_by(Photo.id)))
    if loose:
        db.session.execute(delete(Photo).where(Photo.id.in_([p.id for p in loose]))
                           .execution_options(synchronize_session=False))
    return [photo.stored_name for photo in loose]


def own_photo(user_id: int, photo_id: int) -> Photo | None:
    """One of the user's photos, on a contract still linked to them; None otherwise (one
    query)."""
    return db.session.scalars(
        select(Photo)
        .join(UserAccount, (UserAccount.account_id == Photo.account_id)
              & (UserAccount.user_id == user_id))
        .where(Photo.id == photo_id, Photo.user_id == user_id)
    ).first()
