"""Asking for the password again before a sensitive change (the email, the password, the
cancellation of the user).

A session that signed in, or last gave the password, less than ``OV_REAUTH_MINUTES`` ago is
*fresh*: a forgotten phone left signed in on a table stays open for reading, not for taking
the account over. A wrong password here counts towards the same lock as a wrong one at
sign-in (``ov.services.auth.count_failure``), so a borrowed session cannot guess it either.

**While the user is locked.** The lock protects signing in: anyone can lock a user by
typing wrong passwords at /entrar, and that must not stop the owner, already signed in, from
changing their password or email (the very thing to do then). So a live session may still
give the right password while the user is locked; it does not lift the lock (as a trusted
device's sign-in does not), and a wrong answer still counts towards the lock and lengthens
it. What a session may not do is guess on: once it has given ``OV_LOGIN_MAX_FAILURES``
wrong answers itself (counted in the session, kept on the server), every answer it gives
while the user is locked is refused without checking it, as before.
"""

from __future__ import annotations

from flask import current_app, g, request, session
from wtforms import PasswordField

from ov.auth_helpers import STARTED, now
from ov.extensions import db
from ov.models import User, utcnow
from ov.services import audit, mail, passwords
from ov.services import auth as auth_service

GIVEN = "ov_password_given"
#: How many wrong answers this session gave since its last right one.
WRONG_HERE = "ov_password_wrong"
WRONG = "La contraseña no es correcta."
LOCKED = (
    "Tu usuario está bloqueado por varios intentos fallidos hasta el {until}. Vuelve a "
    "intentarlo entonces, o recupera tu contraseña."
)


def password_field(label: str = "Tu contraseña actual") -> PasswordField:
    return PasswordField(label, render_kw={"autocomplete": "current-password", "maxlength": 64})


def is_fresh() -> bool:
    """The session signed in, or gave the password, less than OV_REAUTH_MINUTES ago."""
    last = max(
        value for value in (session.get(STARTED), session.get(GIVEN), 0)
        if isinstance(value, int | float)
    )
    return now() - last < int(current_app.config["OV_REAUTH_MINUTES"]) * 60


def check_password(user: User, password: str | None, *, purpose: str) -> str | None:
    """None when ``password`` is the user's (the session is fresh again from now); otherwise
    the Spanish message to show beside the field. The caller commits either way (a failure
    is counted and audited), and sends ``pending_mails()`` after committing."""
    moment = utcnow()
    limit = current_app.config["OV_LOGIN_MAX_FAILURES"]
    if auth_service.is_locked(user, moment) and session.get(WRONG_HERE, 0) >= limit:
        passwords.verify_dummy(password or "")
        audit.record("reauth_failed", user_id=user.id, client_address=request.remote_addr,
                     purpose=purpose, reason="locked")
        return LOCKED.format(until=mail.local_datetime(user.locked_until))
    if password and passwords.verify_password(user.password_hash, password):
        session[GIVEN] = now()
        session.pop(WRONG_HERE, None)
        return None
    if not password:
        return "Escribe tu contraseña actual."
    session[WRONG_HERE] = session.get(WRONG_HERE, 0) + 1
    count, locked_until = auth_service.count_failure(user.id, moment)
    audit.record("reauth_failed", user_id=user.id, client_address=request.remote_addr,
                 purpose=purpose, reason="password", failures=count)
    if count % limit == 0 and locked_until:
        audit.record("account_locked", user_id=user.id, client_address=request.remote_addr,
                     failures=count, until=locked_until.isoformat())
        _pending().append(auth_service.queue_locked_mail(user, locked_until, moment))
    db.session.refresh(user)
    return WRONG


def _pending() -> list:
    return g.setdefault("ov_reauth_mails", [])


def pending_mails() -> list:
    """The lock mail a wrong password queued in this request, if any (send after commit)."""
    return g.pop("ov_reauth_mails", [])
