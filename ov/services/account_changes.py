"""Changes to who controls a user, told to the old mailbox with a way to undo them.

Two mechanisms, for every journey that changes a user's access (recovery by bill today,
"Mis datos" and "Añadir contrato" later):

* **Pending email.** A new address never replaces the current one at once: it waits in
  ``User.pending_email`` until the link mailed to it is opened and confirmed. Until then
  every mail still goes to the current address.
* **Undo link.** ``open_change`` records the change and gives a link for the address the
  user had (``OV_UNDO_LINK_DAYS`` days, single use). ``undo`` gives that address back,
  cancels a pending one, and makes the password unusable: the session stamp follows the
  password hash, so every session ends, and whoever opened the link chooses a new password
  through the ordinary reset form.

Restoring the previous password hash instead was considered and left out: after two changes
in a row it would give back the first intruder's password, and a password the owner may have
lost (or that leaked) is no better than a new one chosen there and then.

No request objects: callers pass the client address and commit; mails are rows in the outbox.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import update

from ov.extensions import db
from ov.models import AccountChange, OutboxMail, User, utcnow
from ov.services import audit, mail, passwords, tokens
from ov.services.validation import mask_email

UNDO = "ov.undo-account-change"


def undo_max_age() -> int:
    return int(current_app.config["OV_UNDO_LINK_DAYS"]) * 86400


def undo_validity() -> str:
    """``7 días``: how long an undo link lasts, as the mails and pages say it."""
    return mail.validity_text(undo_max_age())


# --- pending email --------------------------------------------------------------------------

def ask_for_email(user: User, new_email: str, *, now: datetime | None = None) -> OutboxMail | None:
    """Keep ``new_email`` pending and mail it a confirmation link.

    Nothing to confirm (None) when it is the current address, letter case aside; a pending
    address asked for before is dropped either way.
    """
    user.pending_email = user.pending_email_at = None
    if new_email.casefold() == user.email.casefold():
        return None
    user.pending_email = new_email
    user.pending_email_at = now or utcnow()
    return queue_confirm_pending(user)


def queue_confirm_pending(user: User) -> OutboxMail:
    """The link that makes the pending address the user's email (sent to that address)."""
    if not user.pending_email:
        raise ValueError("the user has no pending address to confirm")
    if user.id is None:
        db.session.flush()
    url = mail.external_url(
        "account.confirm_email",
        token=tokens.email_confirmation_token(user, user.pending_email),
    )
    return mail.queue(
        user.pending_email,
        "Confirma tu correo nuevo",
        "confirm_pending_email",
        user=user,
        confirm_url=url,
        current_masked=mask_email(user.email),
    )


def confirm_pending(user: User, address: str, *, client_address: str | None) -> bool:
    """Make ``address`` (the pending one) the user's email; False when it no longer is
    pending (confirmed a moment ago in another tab, cancelled, or replaced)."""
    now = utcnow()
    changed = db.session.execute(
        update(User)
        .where(User.id == user.id, User.pending_email == address)
        .values(email=address, email_confirmed_at=now, pending_email=None,
                pending_email_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        db.session.refresh(user)
        audit.record("email_changed", user_id=user.id, client_address=client_address)
    return bool(changed)


# --- undo links -----------------------------------------------------------------------------

def open_change(user: User, kind: str) -> str:
    """Record a change of ``kind`` told to the user's current address; its undo link."""
    change = AccountChange(user_id=user.id, kind=kind, notified_email=user.email)
    db.session.add(change)
    db.session.flush()
    return mail.external_url("account.undo_change", token=tokens.make_token(UNDO, {"c": change.id}))


def change_for(token: str | None) -> AccountChange | None:
    """The unspent change a live undo token is for; None when forged, expired or spent."""
    payload = tokens.read_token(UNDO, token or "", undo_max_age())
    change_id = payload.get("c") if payload else None
    if not isinstance(change_id, int):
        return None
    change = db.session.get(AccountChange, change_id)
    if change is None or change.spent_at is not None:
        return None
    return change


def undo(change: AccountChange, *, client_address: str | None) -> User | None:
    """Spend the link and undo; None when another request spent it a moment ago.

    Every other open change of the user is spent with it: one undo puts the user back in the
    hands of the address it was told to, whatever happened in between.
    """
    now = utcnow()
    spent = db.session.execute(
        update(AccountChange)
        .where(AccountChange.id == change.id, AccountChange.spent_at.is_(None))
        .values(spent_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:
        return None
    db.session.execute(
        update(AccountChange)
        .where(AccountChange.user_id == change.user_id, AccountChange.spent_at.is_(None))
        .values(spent_at=now)
        .execution_options(synchronize_session=False)
    )
    user = db.session.get(User, change.user_id)
    user.email = change.notified_email
    user.email_confirmed_at = now  # the link was opened in that mailbox
    user.pending_email = user.pending_email_at = None
    user.password_hash = passwords.hash_password(secrets.token_urlsafe(32))  # nobody knows it
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    audit.record("account_change_undone", user_id=user.id, client_address=client_address,
                 change=change.kind, change_id=change.id)
    return user
