"""The optional photo of a form (a meter reading, a claim): one field, read one way.

A form adds ``foto = PhotoField()`` and ``foto_guardada = KeptPhotoField()``, its template
calls the ``photo_input`` macro (ov/templates/macros/photo.html), its view is marked
``@accepts_photo`` (ov/uploads.py) and calls :func:`take_photo` after validating the form.

A browser cannot put a file back into a form, so a good photo must not be lost when another
answer is refused: :func:`take_photo` keeps a good photo as soon as it arrives (a ``photo`` row
of the user's, not yet attached to anything) and the re-rendered form carries its id in
``foto_guardada``; sending the form again uses it, unless a new file replaces it. Kept photos
nothing ever attached are removed by ``flask --app ov photos prune``.
"""

from __future__ import annotations

from flask import current_app
from flask_login import current_user
from flask_wtf.file import FileField
from sqlalchemy import event, inspect
from wtforms import HiddenField

from ov.blueprints.office.common import digits
from ov.extensions import db, limiter
from ov.services import photos

LABEL = "Foto del medidor"

#: The forms that take a photo share one allowance of posts per user
#: (``OV_PHOTO_FORM_LIMIT``): each post may store a photo. Put below the route decorator.
photo_form_limit = limiter.shared_limit(
    lambda: current_app.config["OV_PHOTO_FORM_LIMIT"], scope="formularios-con-foto",
    key_func=lambda: f"foto:{current_user.get_id()}", methods=["POST"])


class PhotoField(FileField):
    """A file input for one photo (JPEG or PNG, judged by content on the server)."""

    def __init__(self, label: str = LABEL, **kwargs) -> None:
        super().__init__(label, **kwargs)


class KeptPhotoField(HiddenField):
    """The id of a photo the same form already received and kept."""


def take_photo(form, *, user_id: int, account_id: int) -> photos.Photo | None:
    """The form's photo: a new file (judged, re-encoded and kept: flushed, the caller
    commits), else the one kept from an earlier try, else None. A bad file adds its Spanish
    message to ``form.foto.errors`` and gives None; nothing of it is stored, and a photo
    kept from an earlier try stays in the form for the next one. A good new file replaces
    the kept one, whose row goes with the caller's commit and its file after it."""
    upload = form.foto.data
    earlier = _kept(form.foto_guardada.data, user_id)
    if upload is not None:
        try:
            prepared = photos.prepare(upload.stream)
        except photos.PhotoError as exc:
            form.foto.errors = [*form.foto.errors, str(exc)]
            form.foto_guardada.data = str(earlier.id) if earlier is not None else ""
            return None
        photo = photos.keep(prepared, user_id=user_id, account_id=account_id)
        form.foto_guardada.data = str(photo.id)
        if earlier is not None:
            _drop(earlier)
        return photo
    if earlier is None:
        form.foto_guardada.data = ""
        return None
    earlier.account_id = account_id  # the contract chosen may have changed since
    return earlier


def _drop(photo: photos.Photo) -> None:
    """Delete a kept photo a new one replaced: its row now, its file once that is
    committed (a rollback keeps both)."""
    db.session.delete(photo)

    def remove_file(session) -> None:
        if inspect(photo).was_deleted:
            photos.discard([photo])

    event.listen(db.session(), "after_commit", remove_file, once=True)


def _kept(raw: str | None, user_id: int) -> photos.Photo | None:
    photo_id = digits(raw)
    if photo_id is None:
        return None
    found = photos.own_photo(user_id, photo_id)
    return found if found is not None and not photos.is_attached(found) else None
