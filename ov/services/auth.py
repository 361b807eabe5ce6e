"""Signing in, locking after repeated failures, and recovering access. No request objects:
callers pass the client address and commit (mails go out with ``mail.deliver_soon`` or
``mail.deliver_after_response`` after).

Login never tells whether a username exists: an unknown username, a wrong password and a
locked account give the same outcome after the same hashing work. The failure counter lives
in the user's row and is increased by one ``UPDATE ... RETURNING`` statement, so parallel
attempts each count once and exactly one of them sees the count that locks the account.

That counter and its lock are for unknown browsers only. A browser the caller vouches for
(``trusted_device``: it holds a device cookie given for this user's current password, with
tries left, see ``ov.auth_helpers``) is neither refused by the lock nor counted in it: its
failures count against its own allowance, kept by the caller, so nobody elsewhere can keep
the owner out. Once that allowance is used up, or the password changes, the caller vouches no
more: the browser's failures count towards the lock and its mail like everyone else's.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import case, func, select, update

from ov.extensions import db
from ov.models import Account, OutboxMail, User, UserAccount, username_key, utcnow
from ov.services import account_changes, audit, captcha, mail, passwords, tokens
from ov.services.validation import USERNAME, mask_email

RESET = "ov.password-reset"
RESET_SPENT = "password-reset"


@dataclass
class LoginOutcome:
    user: User | None = None
    mails: list[OutboxMail] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.user is not None


# --- who is who -----------------------------------------------------------------------------

def valid_username(raw: str | None) -> bool:
    return bool(raw) and USERNAME.fullmatch(raw.strip()) is not None


def find_user(raw_username: str | None, *, blocked: bool = False) -> User | None:
    """The user with that username (any letter case); None for unknown or malformed input,
    and for a cancelled user (blocked until deleted) unless ``blocked``."""
    if not valid_username(raw_username):
        return None
    query = select(User).where(User.username_key == username_key(raw_username))
    if not blocked:
        query = query.where(User.blocked_at.is_(None))
    return db.session.scalar(query)


def session_stamp(user: User) -> str:
    """What a session remembers of the password it was opened with, and of when the user last
    ended their other sessions ("Cerrar mis otras sesiones"): a new password (change, reset,
    recovery) or a new end changes it, and the sessions holding the old stamp stop being
    valid."""
    ended = user.sessions_ended_at
    if ended is None:  # the stamp sessions had before the button existed
        return tokens.fingerprint("session:" + user.password_hash)
    moment = ended.astimezone(UTC).isoformat(timespec="microseconds")
    return tokens.fingerprint("session:" + user.password_hash + "\nended:" + moment)


def stamp_matches(user: User, stamp: Any) -> bool:
    return isinstance(stamp, str) and hmac.compare_digest(session_stamp(user), stamp)


def device_stamp(user: User) -> str:
    """What a device cookie remembers of the password it was given with, and of when the
    user last ended their other sessions: every new password (reset, recovery by bill, the
    undo link's random one, a change) and "Cerrar mis otras sesiones" end the cookies given
    before, as they end the sessions (the browser that acted gets a new one)."""
    ended = user.sessions_ended_at
    if ended is None:  # the stamp cookies had before the button existed
        return tokens.fingerprint("device:" + user.password_hash)
    moment = ended.astimezone(UTC).isoformat(timespec="microseconds")
    return tokens.fingerprint("device:" + user.password_hash + "\nended:" + moment)


def device_stamp_matches(user: User, stamp: Any) -> bool:
    return isinstance(stamp, str) and hmac.compare_digest(device_stamp(user), stamp)


def holder_name(user_id: int) -> str | None:
    """The holder of the user's first linked account (shown beside "Última conexión")."""
    return db.session.scalar(
        select(Account.holder_name)
        .join(UserAccount, UserAccount.account_id == Account.id)
        .where(UserAccount.user_id == user_id)
        .order_by(UserAccount.id)
        .limit(1)
    )


def audit_username(raw: str | None) -> dict[str, Any]:
    """How a typed username that matches no user enters the audit trail and the log: never
    readable (customers type passwords into that field too), but as a hash keyed by the
    secret key, so attempts with the same text (in any letter case) can be correlated."""
    if valid_username(raw):
        return {"username_hash": tokens.fingerprint("audit-username:" + username_key(raw or ""))}
    return {"username_valid": False}


# --- login ----------------------------------------------------------------------------------

def _lock_duration(level: int) -> timedelta:
    config = current_app.config
    minutes = config["OV_LOGIN_LOCK_MINUTES"] * 2 ** max(level - 1, 0)
    return timedelta(minutes=min(minutes, config["OV_LOGIN_LOCK_MAX_MINUTES"]))


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def count_failure(user_id: int, now: datetime) -> tuple[int, datetime | None]:
    """Add one failure in a single statement; the new count and lock end."""
    limit = current_app.config["OV_LOGIN_MAX_FAILURES"]
    new_count = User.failed_logins + 1
    # Each run of `limit` failures locks again, twice as long as the run before (capped).
    whens = [(new_count == limit * level, now + _lock_duration(level)) for level in range(1, 9)]
    whens.append((new_count % limit == 0, now + _lock_duration(64)))
    row = db.session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            failed_logins=new_count,
            locked_until=case(*whens, else_=User.locked_until),
        )
        .returning(User.failed_logins, User.locked_until)
        .execution_options(synchronize_session=False)
    ).one()
    return row.failed_logins, row.locked_until


def authenticate(
    raw_username: str, password: str, *, client_address: str | None,
    trusted_device: bool = False, now: datetime | None = None, browser: str | None = None,
) -> LoginOutcome:
    """Check a login. On success the user's counters and login times are updated.

    ``trusted_device``: the attempt comes from a browser holding a genuine device cookie for
    the user this username names and their current password, with tries left. The lock does
    not refuse it and its failures do not count towards the lock (they are audited with
    ``device``); its success does not lift a lock other browsers earned either.

    ``browser``: the browser's family (``ov.services.profile.browser_family``), kept in the
    events of a known user for their recent activity; never the User-Agent text.
    """
    now = now or utcnow()
    user = find_user(raw_username, blocked=True)
    if user is None:
        passwords.verify_dummy(password)
        audit.record("login_failed", client_address=client_address,
                     reason="unknown", **audit_username(raw_username))
        return LoginOutcome()
    if user.blocked_at is not None:  # cancelled: the same answer as a wrong password
        passwords.verify_dummy(password)
        audit.record("login_failed", user_id=user.id, client_address=client_address,
                     reason="blocked")
        return LoginOutcome()
    locked = is_locked(user, now)
    refused = locked and not trusted_device
    if refused:
        passwords.verify_dummy(password)  # the same work, and no answer about the password
    if refused or not passwords.verify_password(user.password_hash, password):
        if trusted_device:
            audit.record("login_failed", user_id=user.id, client_address=client_address,
                         reason="password", device=True, browser=browser)
            return LoginOutcome()
        count, locked_until = count_failure(user.id, now)
        audit.record("login_failed", user_id=user.id, client_address=client_address,
                     reason="locked" if locked else "password", failures=count,
                     browser=browser)
        outcome = LoginOutcome()
        if count % current_app.config["OV_LOGIN_MAX_FAILURES"] == 0 and locked_until:
            # Exactly one attempt sees each multiple: one event and one mail per lock.
            audit.record("account_locked", user_id=user.id, client_address=client_address,
                         failures=count, until=locked_until.isoformat())
            outcome.mails.append(queue_locked_mail(user, locked_until, now))
        return outcome
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    if not locked:
        user.failed_logins = 0
        user.locked_until = None
    user.previous_login_at = user.last_login_at
    user.last_login_at = now
    audit.record("login_succeeded", user_id=user.id, client_address=client_address,
                 browser=browser, **({"device": True} if trusted_device else {}))
    return LoginOutcome(user=user)


def queue_locked_mail(user: User, until: datetime, now: datetime) -> OutboxMail:
    return mail.queue(
        user.email,
        "Bloqueamos por un tiempo el acceso a tu Oficina Virtual",
        "account_locked",
        user=user,
        when=mail.local_datetime(now),
        until=mail.local_datetime(until),
    )


# --- recovery by email ----------------------------------------------------------------------

def reset_max_age() -> int:
    return int(current_app.config["OV_RESET_MAX_AGE_MINUTES"]) * 60


def _reset_print(user: User) -> str:
    return tokens.fingerprint("reset:" + user.password_hash + "\n" + user.email.casefold())


def reset_token(user: User) -> str:
    return tokens.make_token(RESET, {"u": user.id, "p": _reset_print(user)})


def user_for_reset(token: str | None) -> User | None:
    """The user a live, unspent reset token is for; None otherwise. The token dies when it
    expires, is used, or the user's password or email changes."""
    payload = tokens.read_token(RESET, token or "", reset_max_age())
    if payload is None:
        return None
    user_id, fingerprint = payload.get("u"), payload.get("p")
    if not isinstance(user_id, int) or not isinstance(fingerprint, str):
        return None
    user = db.session.get(User, user_id)
    if (user is None or user.blocked_at is not None
            or not hmac.compare_digest(_reset_print(user), fingerprint)):
        return None
    return user


def request_reset(email: str, *, client_address: str | None) -> list[OutboxMail]:
    """Mail every user with this address their username and a reset link (none if unknown)."""
    # The local part's letter case is the customer's habit, not another mailbox.
    users = list(db.session.scalars(
        select(User).where(func.lower(User.email) == email.lower(), User.blocked_at.is_(None))
        .order_by(User.id)
    ))
    mails = []
    for user in users:
        mails.append(mail.queue(
            user.email,
            "Recupera el acceso a tu Oficina Virtual",
            "password_reset",
            user=user,
            reset_url=mail.external_url("auth.reset_link", token=reset_token(user)),
            validity=mail.validity_text(reset_max_age()),
        ))
        audit.record("password_reset_requested", user_id=user.id, client_address=client_address)
    if not users:
        audit.record("password_reset_requested", client_address=client_address, known=False)
    return mails


def set_password(user: User, new_password: str, now: datetime | None = None) -> None:
    """A new password: unlocks the account and (through the stamp) ends other sessions. A
    pending address is dropped, its link stops working: the mail to the current address
    promises that changing the password stops a change nobody there asked for."""
    now = now or utcnow()
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    user.pending_email = user.pending_email_at = None


def complete_reset(
    user: User, token: str, new_password: str, *, client_address: str | None
) -> list[OutboxMail] | None:
    """Use the token once and set the password; None if the token was already spent."""
    if not captcha.spend(RESET_SPENT, token, utcnow() + timedelta(seconds=reset_max_age())):
        return None
    set_password(user, new_password)
    audit.record("password_reset_completed", user_id=user.id, client_address=client_address)
    return [queue_password_changed(user)]


def queue_password_changed(user: User) -> OutboxMail:
    return mail.queue(
        user.email,
        "Cambiaste tu contraseña de la Oficina Virtual",
        "password_changed",
        user=user,
        when=mail.local_datetime(utcnow()),
    )


# --- recovery with the bill -----------------------------------------------------------------

def recover_by_bill(
    user: User, account: Account, new_password: str, new_email: str, *,
    client_address: str | None,
) -> list[OutboxMail]:
    """Proof of the bill: a new password at once, a new email only once confirmed.

    The current address is told first, with a link that undoes the change for
    ``OV_UNDO_LINK_DAYS`` days (``ov.services.account_changes``), and so is the address of
    every change still open, with its own link; a different new address gets a confirmation
    link and stays pending until it is opened. The caller refuses the bill for a while after
    an undo (``account_changes.bill_refused``).
    """
    set_password(user, new_password)
    change = account_changes.open_change(user, "recovery_by_bill")
    confirm = account_changes.ask_for_email(user, new_email)
    mails = [mail.queue(
        user.email,
        "Cambiaron la contraseña de tu Oficina Virtual con una factura",
        "recovered_by_bill",
        user=user,
        account=account,
        when=mail.local_datetime(utcnow()),
        pending_masked=mask_email(user.pending_email) if user.pending_email else None,
        undo_url=account_changes.link_for(user, change.notified_email),
        undo_validity=account_changes.undo_validity(),
    )]
    if confirm is not None:
        mails.append(confirm)
    mails += account_changes.tell_open_changes(user, change)
    audit.record("recovery_by_bill", user_id=user.id, client_address=client_address,
                 account_id=account.id, email_pending=confirm is not None)
    return mails
