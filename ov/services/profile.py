"""Mis datos: the rules of the user's access and contact data, and their recent activity.

No request objects: callers pass the client address and commit (mails are outbox rows, sent
with ``mail.deliver_soon`` after the commit).

* **Email.** A new address waits for its own confirmation link (``account_changes``), and
  the current address is told at once that a change was asked for. Addresses are unique
  among users that are not blocked, compared by ``email_key`` (checked here, in registration
  steps 2 and 3 and again when the link is confirmed; there is no unique index: a cancelled
  user keeps their row and address until it is purged). An address is taken while it is a
  user's current one, while it waits for another user's confirmation link, and while an
  undo link mailed to it is open (the undo gives it back): otherwise an undo could give one
  address to two users. How often a user hears "taken" is limited
  (``OV_EMAIL_CHANGE_LIMIT``), so the form cannot list the portal's addresses.
* **Phone.** Optional; ten digits of a Mexican number, typed however people write them.
* **Password.** ``ov.services.auth.set_password``; other sessions end through the stamp,
  and a pending address is dropped (the mail to the current address promises it).
* **Recent activity.** The last sign-ins from the audit trail, with the browser family
  recorded at sign-in (only the family, never the User-Agent text).
* **Other sessions.** ``User.sessions_ended_at`` is part of the session and device stamps:
  setting it ends every session opened before and every other browser's device cookie; the
  caller restamps its own.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from limits import parse_many
from sqlalchemy import or_, select

from ov.extensions import db, limit_keys, limiter
from ov.models import AccountChange, AuditEvent, OutboxMail, User, email_key, utcnow
from ov.rate_limits import Allowance, take
from ov.services import account_changes, audit, mail, tokens
from ov.services import auth as auth_service
from ov.services.validation import FieldError, mask_email

EMAIL_TAKEN = (
    "Ese correo electrónico ya está registrado con otro usuario. Escribe otro; si es tuyo, "
    "recupera ese usuario con «No recuerdo mi usuario y/o contraseña»."
)
SAME_EMAIL = "Ese ya es tu correo electrónico. Escribe el nuevo."


# --- email ----------------------------------------------------------------------------------

def email_taken(address: str, *, except_user_id: int | None = None) -> bool:
    """Whether another user that is not blocked holds ``address`` (compared by
    ``email_key``): as their current address, as one waiting for its confirmation link, or as
    the address an open undo link of theirs gives back."""
    key = email_key(address)
    others = [User.blocked_at.is_(None)]
    if except_user_id is not None:
        others.append(User.id != except_user_id)
    current = select(User.id).where(User.email_key == key, *others).limit(1)
    if db.session.scalars(current).first() is not None:
        return True
    now = utcnow()
    # Pending and undo addresses have no key column: the few recent ones are folded here.
    live_link = now - timedelta(seconds=tokens.email_confirmation_max_age())
    pending = select(User.pending_email).where(
        User.pending_email.is_not(None), User.pending_email_at > live_link, *others)
    if any(email_key(found) == key for found in db.session.scalars(pending)):
        return True
    # A change is open while its chain's last event is within the undo period, however old
    # the change itself is: the users with any event in the period, and all their changes.
    recent = now - timedelta(seconds=account_changes.undo_max_age())
    lately = select(AccountChange.user_id).where(
        or_(AccountChange.created_at >= recent, AccountChange.spent_at >= recent))
    told = db.session.execute(
        select(User, AccountChange.notified_email)
        .join(AccountChange, AccountChange.user_id == User.id)
        .where(User.id.in_(lately), *others)
    )
    holders = {(user, notified) for user, notified in told if email_key(notified) == key}
    return any(account_changes.link_for(user, notified) for user, notified in holders)


def email_change_limit(user_id: int) -> Allowance:
    """How many "taken" answers the email form gives a user (``OV_EMAIL_CHANGE_LIMIT``)."""
    return Allowance(current_app.config["OV_EMAIL_CHANGE_LIMIT"], f"correo-ocupado:{user_id}")


def email_check_wait(user_id: int) -> int:
    """0 while the user may still be told whether an address is taken; otherwise the seconds
    until the allowance renews. Once used up, every address waits, taken or free, so the
    wait itself tells nothing about the address."""
    allowance = email_change_limit(user_id)
    keys = limit_keys(allowance.key)
    for item in parse_many(allowance.limit):
        if not limiter.limiter.test(item, *keys):
            reset = limiter.limiter.get_window_stats(item, *keys).reset_time
            return max(1, math.ceil(reset - time.time()))
    return 0


def take_taken_answer(user_id: int) -> int:
    """Count one "taken" answer: 0 when it may be given, else the seconds to wait."""
    return take(email_change_limit(user_id))


def ask_for_email(user: User, new_email: str, *, client_address: str | None) -> list[OutboxMail]:
    """Keep ``new_email`` pending (already checked: well formed, not the current one, not
    taken): a confirmation link to it, and a word to the current address that a change was
    asked for and takes effect only once confirmed. Audited; the caller commits."""
    confirm = account_changes.ask_for_email(user, new_email)
    if confirm is None:
        return []
    told = mail.queue(
        user.email,
        "Pidieron cambiar el correo de tu Oficina Virtual",
        "email_change_requested",
        user=user,
        when=mail.local_datetime(user.pending_email_at or utcnow()),
        new_masked=mask_email(new_email),
    )
    audit.record("email_change_requested", user_id=user.id, client_address=client_address)
    return [confirm, told]


def cancel_pending_email(user: User, *, client_address: str | None) -> bool:
    """Drop the address waiting for its link (its link stops working); False if none."""
    if not user.pending_email:
        return False
    user.pending_email = user.pending_email_at = None
    audit.record("email_change_cancelled", user_id=user.id, client_address=client_address)
    return True


# --- phone ----------------------------------------------------------------------------------

PHONE_LENGTH = 10
PHONE_SIGNS = " -.()"
#: Area codes of two digits (Mexico City, also 56 since 2019; Guadalajara; Monterrey):
#: 55 1234 5678.
TWO_DIGIT_AREAS = ("55", "56", "33", "81")
PHONE_EXAMPLE = "81 1234 5678"


def clean_phone(value: str | None) -> str | None:
    """The ten digits of a Mexican phone number typed as people write it ("81 1234 5678",
    "(81) 1234-5678", "+52 81 1234 5678", "8112345678"); None when left empty (no phone).
    Raises ``FieldError`` with the reason otherwise."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > 30:
        raise FieldError(
            f"Es demasiado largo. Escribe los 10 dígitos, por ejemplo {PHONE_EXAMPLE}."
        )
    plus = text.startswith("+")
    body = text[1:] if plus else text
    for ch in body:
        if not (ch in "0123456789" or ch in PHONE_SIGNS):
            raise FieldError(
                f"Escribe solo números (puedes separarlos con espacios o guiones), por ejemplo "
                f"{PHONE_EXAMPLE}. Quita «{ch}»."
            )
    digits = "".join(ch for ch in body if ch in "0123456789")
    if plus and not digits.startswith("52"):
        raise FieldError(
            f"Escribe un número de México: 10 dígitos con la lada, por ejemplo {PHONE_EXAMPLE}."
        )
    if (plus or len(digits) > PHONE_LENGTH) and digits.startswith("52"):
        digits = digits[2:]
        if len(digits) == PHONE_LENGTH + 1 and digits.startswith("1"):
            digits = digits[1:]  # the old "+52 1" before a mobile number
    if len(digits) < PHONE_LENGTH:
        raise FieldError(
            f"Le faltan dígitos: escribe los 10, con la lada, por ejemplo {PHONE_EXAMPLE}."
        )
    if len(digits) > PHONE_LENGTH:
        raise FieldError(
            f"Tiene más de 10 dígitos. Escribe los 10 del número con la lada, por ejemplo "
            f"{PHONE_EXAMPLE}."
        )
    if digits[0] in "01":
        raise FieldError(
            "Los números de México empiezan con la lada, que no empieza con 0 ni con 1. "
            f"Escribe los 10 dígitos, por ejemplo {PHONE_EXAMPLE}."
        )
    return digits


def format_phone(digits: str | None) -> str:
    """"81 1234 5678" for the two-digit area codes, "867 123 4567" for the others."""
    if not digits:
        return ""
    if digits[:2] in TWO_DIGIT_AREAS:
        return f"{digits[:2]} {digits[2:6]} {digits[6:]}"
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def set_phone(user: User, digits: str | None, *, client_address: str | None) -> bool:
    """Save (or with None remove) the phone, audited; False when nothing changed."""
    if user.phone == digits:
        return False
    user.phone = digits
    audit.record("phone_changed", user_id=user.id, client_address=client_address,
                 removed=digits is None)
    return True


# --- password and sessions ------------------------------------------------------------------

def change_password(user: User, new_password: str, *,
                    client_address: str | None) -> list[OutboxMail]:
    """The new password (already checked against the policy); every session opened with the
    old one ends, the caller restamps its own. Audited; the mail that tells the owner."""
    auth_service.set_password(user, new_password)
    audit.record("password_changed", user_id=user.id, client_address=client_address)
    return [auth_service.queue_password_changed(user)]


def end_other_sessions(user: User, *, client_address: str | None) -> None:
    """"Cerrar mis otras sesiones": every session opened before now stops being valid; the
    caller restamps its own so that it goes on. Audited."""
    user.sessions_ended_at = utcnow()
    audit.record("other_sessions_ended", user_id=user.id, client_address=client_address)


# --- recent activity ------------------------------------------------------------------------

UNKNOWN_BROWSER = "Desconocido"
OTHER_BROWSER = "Otro"
SIGN_INS = ("login_succeeded", "login_failed")
#: The only names kept: the browsers customers know. Any other family ua-parser finds is
#: kept as "Otro": its text comes from the User-Agent header, which anyone can fill with
#: anything (a name, a CURP).
KNOWN_BROWSERS = ("Chrome", "Chromium", "Firefox", "Safari", "Edge", "Samsung Internet",
                  "Opera", "UC Browser", "Navegador de Android", "Internet Explorer",
                  "Brave", "Vivaldi", "Yandex", "DuckDuckGo")
#: ua-parser's family names, each to the known one it is shown as.
FAMILIES = {
    "Chrome": "Chrome", "Chrome Mobile": "Chrome", "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome", "HeadlessChrome": "Chrome", "Chromium": "Chromium",
    "Firefox": "Firefox", "Firefox Mobile": "Firefox", "Firefox iOS": "Firefox",
    "Safari": "Safari", "Mobile Safari": "Safari", "Mobile Safari UI/WKWebView": "Safari",
    "Edge": "Edge", "Edge Mobile": "Edge",
    "Opera": "Opera", "Opera Mobile": "Opera", "Opera Mini": "Opera", "Opera GX": "Opera",
    "Opera Touch": "Opera",
    "Samsung Internet": "Samsung Internet",
    "UC Browser": "UC Browser",
    "Android": "Navegador de Android",
    "IE": "Internet Explorer", "IE Mobile": "Internet Explorer",
    "Brave": "Brave", "Vivaldi": "Vivaldi", "Yandex Browser": "Yandex",
    "DuckDuckGo Mobile": "DuckDuckGo",
}
#: Any agent does: parsing one compiles the patterns.
_WARM_UP_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def browser_family(user_agent: str | None) -> str | None:
    """The browser's family, one of ``KNOWN_BROWSERS`` or "Otro", from a User-Agent header;
    None when it names none. Only this is kept."""
    text = (user_agent or "")[:1000]
    if not text:
        return None
    from ua_parser import parse_user_agent

    found = parse_user_agent(text)
    if found is None or not found.family or found.family == "Other":
        return None
    return FAMILIES.get(found.family, OTHER_BROWSER)


def warm_up_browser_parser() -> None:
    """ua-parser compiles its patterns on first use (a fraction of a second): done when the
    app starts, not in the first customer's sign-in."""
    browser_family(_WARM_UP_AGENT)


@dataclass(frozen=True)
class SignIn:
    at: datetime
    browser: str
    succeeded: bool

    @property
    def when(self) -> str:
        return mail.local_datetime(self.at)


def recent_sign_ins(user_id: int, limit: int = 10) -> list[SignIn]:
    """The user's last ``limit`` sign-ins, successful or not, newest first."""
    rows = db.session.execute(
        select(AuditEvent.at, AuditEvent.kind, AuditEvent.details)
        .where(AuditEvent.user_id == user_id, AuditEvent.kind.in_(SIGN_INS))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return [
        SignIn(at=row.at, succeeded=row.kind == "login_succeeded",
               browser=str((row.details or {}).get("browser") or UNKNOWN_BROWSER))
        for row in rows
    ]
