"""Signed, expiring tokens for links sent by mail (email confirmation, password reset, undo).

A token is itsdangerous' ``URLSafeTimedSerializer`` over a small dict, signed with the app's
secret key and a salt per purpose, so a token made for one purpose never works for another.
Tokens end up in URLs (and so in access logs and browser history): they carry ids and keyed
fingerprints, never an email address or other personal data in clear.

A token "dies" when what it vouches for changes: the confirmation token holds a fingerprint of
the email it was sent to, so changing the email invalidates it. A reset token can do the same
with ``fingerprint(user.password_hash)``.

Device tokens (the value of the device cookie, see ``ov.auth_helpers``) are made the same way
under their own purpose: a user id, a random nonce and a keyed fingerprint of the password
they were given with, nothing else (a new password ends them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from ov.extensions import db
from ov.models import User

EMAIL_CONFIRMATION = "ov.email-confirmation"
LOGIN_DEVICE = "ov.login-device"
# A real token is ~100 characters; refuse absurd input before doing any work on it.
MAX_TOKEN_LENGTH = 512


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    """A URL-safe token for ``payload`` (keep it small and free of personal data)."""
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int) -> dict[str, Any] | None:
    """The payload of a genuine token for ``purpose`` younger than ``max_age`` s, else None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except BadData:  # bad signature, expired, malformed: all the same to the caller
        return None
    return payload if isinstance(payload, dict) else None


def fingerprint(value: str) -> str:
    """A short keyed digest of ``value``: equal values match, and it reveals nothing."""
    key = hashlib.sha256(b"ov.fingerprint:" + current_app.config["SECRET_KEY"].encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:20]


def email_confirmation_token(user: User, email: str | None = None) -> str:
    """The token for the link that confirms ``email`` (default ``user.email``; a pending new
    address gets its own). The user must have an id."""
    if user.id is None:
        raise ValueError("the user needs an id: flush the session first")
    return make_token(
        EMAIL_CONFIRMATION, {"u": user.id, "e": fingerprint(email or user.email)}
    )


def email_confirmation_max_age() -> int:
    return int(current_app.config["OV_EMAIL_CONFIRM_MAX_AGE"])


def read_email_confirmation(
    token: str, max_age: int | None = None
) -> tuple[User, str] | None:
    """The user and the address (current or pending) the token vouches for, or None.

    None when the token is forged, tampered with, older than ``max_age`` seconds (default
    ``OV_EMAIL_CONFIRM_MAX_AGE``), or was made for an address the user no longer has or
    asks for.
    """
    if max_age is None:
        max_age = email_confirmation_max_age()
    payload = read_token(EMAIL_CONFIRMATION, token, max_age)
    if payload is None:
        return None
    user_id, email_print = payload.get("u"), payload.get("e")
    if not isinstance(user_id, int) or not isinstance(email_print, str):
        return None
    user = db.session.get(User, user_id)
    if user is None:
        return None
    for address in (user.email, user.pending_email):
        if address and hmac.compare_digest(fingerprint(address), email_print):
            return user, address
    return None


# --- device cookies (a browser where a customer signed in before) ---------------------------

def device_token(user_id: int, stamp: str) -> str:
    """A new device token for ``user_id``: the id, a random nonce that names this browser (its
    own allowance of failed logins is counted under the nonce) and ``stamp``, what it keeps of
    the password (the caller compares it with the user's when the token comes back)."""
    return make_token(LOGIN_DEVICE, {"u": user_id, "n": secrets.token_urlsafe(16), "p": stamp})


def read_device_token(token: str | None, max_age: int) -> tuple[int, str, str] | None:
    """``(user_id, nonce, stamp)`` of a genuine device token younger than ``max_age`` s, else
    None."""
    payload = read_token(LOGIN_DEVICE, token or "", max_age)
    if payload is None:
        return None
    user_id, nonce, stamp = payload.get("u"), payload.get("n"), payload.get("p")
    if not isinstance(user_id, int) or not all(isinstance(v, str) and v for v in (nonce, stamp)):
        return None
    return user_id, nonce, stamp
