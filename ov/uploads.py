"""The few routes that take a photo may receive a larger body than the rest of the site.

Every form is small, so ``MAX_CONTENT_LENGTH`` (64 KiB) refuses big bodies everywhere. A view
decorated with :func:`accepts_photo` raises that limit to ``OV_PHOTO_MAX_MB`` for its own
requests only; the text fields still share the 64 KiB of ``MAX_FORM_MEMORY_SIZE``, and the
file itself is spooled to a temporary file by Werkzeug, not held in memory. The hook runs
before CSRF protection, which is the first to read the form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request

View = TypeVar("View", bound=Callable)
#: What a photo form adds to the photo itself: its text fields and the multipart framing.
FORM_ALLOWANCE = 64 * 1024
#: How much Werkzeug's multipart parser reads at a time. Its buffer (a chunk plus the few
#: bytes kept back where a boundary might start, which a photo's bytes often look like) is
#: held to ``max_form_memory_size`` too: with a limit of exactly one chunk, most real photos
#: were refused as too large. Photo routes get one chunk more.
PARSER_CHUNK = 64 * 1024


def accepts_photo(view: View) -> View:
    """Mark a view as one that receives a photo upload."""
    view.accepts_photo = True  # type: ignore[attr-defined]
    return view


def takes_photo() -> bool:
    """Does the request's route receive a photo?"""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "accepts_photo", False))


def photo_limit_bytes() -> int:
    return int(current_app.config["OV_PHOTO_MAX_MB"]) * 1024 * 1024


def _raise_limit_for_photo_routes() -> None:
    if takes_photo():
        request.max_content_length = photo_limit_bytes() + FORM_ALLOWANCE
        request.max_form_memory_size = (
            current_app.config["MAX_FORM_MEMORY_SIZE"] + PARSER_CHUNK)


def init_app(app: Flask) -> None:
    app.before_request(_raise_limit_for_photo_routes)
