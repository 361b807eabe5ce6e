"""Signed-in sessions: Flask-Login's setup, the session limits, and private pages.

For other blueprints:

* ``@private`` on a view: only for a signed-in customer (others go to the login page, which
  brings them back afterwards), and the response is ``Cache-Control: no-store``. Every
  response to a signed-in customer is ``no-store`` anyway (the header shows their name).
* ``safe_next(value)``: a ``next`` target that stays on this site, else the default.
* ``trust_device(user)``: the response gives this browser a device cookie for ``user``
  (after a sign-in, a completed reset by email, and a password changed while signed in);
  ``device_nonce(user)`` reads it back.

Device cookies follow OWASP's "slow down online guessing with device cookies": a browser
where the customer signed in before keeps a signed cookie (the user's id, a random nonce and
a keyed stamp of the password, no personal data) in ``ov_device`` (``__Host-ov_device``,
``Secure``, in production), ``HttpOnly`` and ``SameSite=Lax`` like the session cookie, for
``OV_LOGIN_DEVICE_DAYS``. A login for that user from that browser is not refused by the lock
or the limits that unknown browsers run into: it uses one of the nonce's own
``OV_LOGIN_DEVICE_MAX_FAILURES`` tries instead (``take_device_try``). A cookie whose tries are
used up, or given before the password last changed, is worth nothing: that browser is an
unknown one until a sign-in there gives it a new cookie.

A session remembers when it started (``ov_started``), when it was last used (``ov_seen``)
and a stamp of the password it was opened with (``ov_stamp``). Before each request a
signed-in session older than ``OV_SESSION_MAX_HOURS``, idle for ``OV_SESSION_IDLE_MINUTES``
(``ov_seen`` moves in steps of ``SEEN_STEP`` seconds),
or whose stamp no longer matches (the password changed) is ended on the server.
"""

from __future__ import annotations

import time
import unicodedata
from functools import wraps
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import bindparam, select

from ov.errors import _answers_to_keep
from ov.extensions import db, login
from ov.htmx import client_redirect
from ov.models import Account, User, UserAccount
from ov.outages import OPERATIONS
from ov.rate_limits import Allowance, take
from ov.services import auth as auth_service
from ov.services import tokens

STAMP, STARTED, SEEN = "ov_stamp", "ov_started", "ov_seen"
ENDED = "ov_ended"  # why the last session ended, for the login page to say
DEVICE_COOKIE = "ov_device"
RESUME = "ov_resume"  # answers of a form sent after the session had ended
MAX_NEXT = 2000
#: How stale ``ov_seen`` may get before a request writes it again. Not every request saves
#: the session, then: fewer writes, and a burst of requests (a page and its lazy parts) does
#: not write the same session over itself. The idle limit may come up to this much early.
SEEN_STEP = 15
#: Answered the same for everyone, without loading who is signed in: static files, and the
#: health checks (which must answer while the database is down).
UNSIGNED_ENDPOINTS = frozenset({"static", *OPERATIONS})


def now() -> float:
    """The clock the session limits read (tests move it)."""
    return time.time()


# --- next targets -------------------------------------------------------------------------

def _has_control(text: str) -> bool:
    return any(unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} for char in text)


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site, else the default landing page."""
    default = current_app.config["OV_HOME_AFTER_LOGIN"]
    if not value or len(value) > MAX_NEXT:
        return default
    decoded = unquote(value)
    for text in (value, decoded):
        if "\\" in text or _has_control(text) or not text.startswith("/") or text.startswith("//"):
            return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


# --- the session's life -------------------------------------------------------------------

def start_session(user: User) -> None:
    """Sign in on a fresh session id (the pre-login id is discarded with its record)."""
    # A sign-in the store could not keep would only sign the customer out at the next page:
    # with the store down, refuse it now (a 503, see docs/outages.md).
    current_app.session_interface.ensure_available()  # type: ignore[attr-defined]
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
    login_user(user)
    moment = now()
    session[STAMP] = auth_service.session_stamp(user)
    session[STARTED] = moment
    session[SEEN] = moment
    trust_device(user)


# --- device cookies -------------------------------------------------------------------------

def _production() -> bool:
    return current_app.config["OV_ENV"] == "production"


def device_cookie_name() -> str:
    # Like the session cookie: a __Host- cookie (Secure, Path=/, no Domain) in production.
    return "__Host-" + DEVICE_COOKIE if _production() else DEVICE_COOKIE


def device_max_age() -> int:
    return int(current_app.config["OV_LOGIN_DEVICE_DAYS"]) * 24 * 3600


def trust_device(user: User) -> None:
    """Give this browser a new device cookie for ``user`` (a new nonce: a fresh allowance),
    valid while the password stays the one ``user`` has now."""
    g.ov_device_token = tokens.device_token(user.id, auth_service.device_stamp(user))


def device_nonce(user: User) -> str | None:
    """The nonce of this browser's device cookie when it is genuine, unexpired and made for
    ``user`` and their current password; None otherwise (no cookie, forged, tampered with,
    another user's, given before the password changed)."""
    found = tokens.read_device_token(request.cookies.get(device_cookie_name()), device_max_age())
    if found is None or found[0] != user.id:
        return None
    _, nonce, stamp = found
    return nonce if auth_service.device_stamp_matches(user, stamp) else None


def take_device_try(nonce: str) -> bool:
    """Use one of the tries of the device cookie ``nonce``; False once they are used up.

    A try is taken before the password is checked, so attempts sent at once never get more
    than the allowance between them (a success replaces the cookie, and its count with it).
    The count lasts as long as a cookie does: used up, the cookie stays worthless.
    """
    config = current_app.config
    allowance = Allowance(
        f"{config['OV_LOGIN_DEVICE_MAX_FAILURES']} per {max(1, device_max_age() // 86400)} days",
        "entrar-dispositivo:" + tokens.fingerprint(nonce),
    )
    return take(allowance) == 0


def send_device_cookie(response):
    token = g.pop("ov_device_token", None)
    if token is not None:
        response.set_cookie(
            device_cookie_name(), token, max_age=device_max_age(), path="/",
            secure=_production(), httponly=True, samesite="Lax",
        )
    return response


def restamp(user: User) -> None:
    """After this session changed the password: it stays valid and this browser trusted (a
    new device cookie); the other sessions and device cookies do not."""
    session[STAMP] = auth_service.session_stamp(user)
    trust_device(user)


def end_session(reason: str | None = None) -> None:
    """Sign out and delete the session on the server; the browser gets a new, empty id."""
    logout_user()
    session.clear()
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
    if reason:
        session[ENDED] = reason


def idle_seconds() -> int:
    return int(current_app.config["OV_SESSION_IDLE_MINUTES"]) * 60


def _expired_reason(moment: float) -> str | None:
    started, seen = session.get(STARTED), session.get(SEEN)
    if not isinstance(started, int | float) or moment - started >= (
        current_app.config["OV_SESSION_MAX_HOURS"] * 3600
    ):
        return "max"
    if not isinstance(seen, int | float) or moment - seen >= idle_seconds():
        return "idle"
    if not current_user.is_authenticated:
        return "ended"  # the password changed elsewhere, or the user is gone
    return None


def enforce_session_limits():
    if request.endpoint in UNSIGNED_ENDPOINTS or "_user_id" not in session:
        return None
    moment = now()
    reason = _expired_reason(moment)
    if reason is None:
        if moment - session[SEEN] >= SEEN_STEP:
            session[SEEN] = moment
        return None
    user_id = session.get("_user_id")
    answers = _answers_to_keep() if request.method == "POST" else []
    end_session(reason)
    if request.method != "POST" or request.blueprint == "auth":
        return None  # a private page sends the visitor to the login page by itself
    if answers:
        session[RESUME] = {
            "u": user_id, "action": request.full_path.rstrip("?"), "answers": answers,
        }
    return client_redirect(url_for("auth.login", next=request.path))


def take_resume(user: User) -> dict | None:
    """The answers kept from a form sent after the session ended, if they are this user's."""
    kept = session.pop(RESUME, None)
    if not isinstance(kept, dict) or str(kept.get("u")) != str(user.id):
        return None
    if safe_next(kept.get("action")) != kept.get("action"):
        return None
    return kept


# --- Flask-Login ----------------------------------------------------------------------------

#: The holder of the user's first contract, as the header line shows it
#: (``ov.services.auth.holder_name`` as a column of the user's own row).
_HOLDER = (
    select(Account.holder_name)
    .join(UserAccount, UserAccount.account_id == Account.id)
    .where(UserAccount.user_id == User.id)
    .order_by(UserAccount.id)
    .limit(1)
    .correlate(User)
    .scalar_subquery()
)
#: The signed-in user with what the header shows, built once: every request of a signed-in
#: customer runs it, so it is one statement and no Python work to build it.
_USER_WITH_HOLDER = select(User, _HOLDER).where(User.id == bindparam("user_id"))


def load_user(user_id: str) -> User | None:
    """The session's user, read from the database on every request: a cancelled user, a
    changed password or "Cerrar mis otras sesiones" ends every session at the next request.
    The same statement brings the header line's holder name (``connection_info``)."""
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    row = db.session.execute(_USER_WITH_HOLDER, {"user_id": key}).first()
    if row is None:
        return None
    user, holder = row
    if user.blocked_at is not None:  # cancelled: every session ends
        return None
    if not auth_service.stamp_matches(user, session.get(STAMP)):
        return None
    g.ov_holder = holder
    return user


def unauthorized():
    target = request.full_path.rstrip("?") if request.method == "GET" else request.path
    url = url_for("auth.login", next=target)
    if request.headers.get("HX-Request") == "true":
        return client_redirect(url)
    return redirect(url)


def private(view):
    """Only for a signed-in customer; never stored by a browser or proxy."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        g.ov_private = True
        return view(*args, **kwargs)

    return wrapped


def no_store_when_private(response):
    if request.endpoint in UNSIGNED_ENDPOINTS:
        return response
    if g.get("ov_private") or request.blueprint == "auth" or current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response


def connection_info() -> dict:
    """The header line of a signed-in page: the previous login and the holder's name."""
    if "ov_connection" not in g:
        user = current_user
        when = user.previous_login_at
        from ov.services.mail import local_datetime

        # Read with the user (load_user); asked for only when the user came another way.
        holder = g.ov_holder if "ov_holder" in g else auth_service.holder_name(user.id)
        g.ov_connection = {
            "when": local_datetime(when) if when else None,
            "holder": holder or user.username,
        }
    return g.ov_connection


def init_app(app: Flask) -> None:
    login.init_app(app)
    login.login_view = "auth.login"
    # No Flask-Login session protection: we keep no "remember me" cookie and ask for no
    # fresh logins, and ids are regenerated at login and logout. Its "basic" mode would only
    # mark every anonymous session as not fresh, a write that makes a background request
    # (an inline check) save the whole session over what a form posted at the same moment.
    login.session_protection = None
    login.user_loader(load_user)
    login.unauthorized_handler(unauthorized)
    app.before_request(enforce_session_limits)
    app.after_request(no_store_when_private)
    app.after_request(send_device_cookie)
    app.add_template_global(connection_info)
    app.add_template_global(idle_seconds, "session_idle_seconds")
