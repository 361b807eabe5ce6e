"""Changes to who controls a user, told to the old mailbox with a way to undo them.

Two mechanisms, for every journey that changes a user's access (recovery by bill today,
"Mis datos" and "Añadir contrato" later):

* **Pending email.** A new address never replaces the current one at once: it waits in
  ``User.pending_email`` until the link mailed to it is opened and confirmed. Until then
  every mail still goes to the current address. Confirming it is a change of its own: the
  address it replaces is told at once, with an undo link.
* **Undo link.** ``open_change`` records the change and the address it is told to (the one
  the user had). For ``OV_UNDO_LINK_DAYS`` days from then the change is *open*: its link
  works once, and ``undo`` gives that address back, cancels a pending one, and makes the
  password unusable: the session stamp follows the password hash, so every session ends, and
  whoever opened the link chooses a new password through the ordinary reset form.

The earliest address wins. An undo spends its own change and the newer ones, never older
ones, so whoever holds a bill cannot take the owner's link away by making (and undoing) changes
of their own. And while a change is open, every later one is also told to the address of each
open change, with the link of that address's newest open change (the one that lasts longest).
A link never outlives its change: the period runs from the change, whenever the link was
mailed. An address that was on the account only becomes current again through an undo from
its own mailbox, so its newest open change is older than every change told to someone else
since, and undoing it spends them all.

After an undo, recovery by bill is refused for that user for the same period
(``recently_undone``): the bill that was just beaten must not take the account straight back.
Only an undo sets ``AccountChange.spent_at``, so a recent ``spent_at`` is a recent undo.

Restoring the previous password hash instead was considered and left out: after two changes
in a row it would give back the first intruder's password, and a password the owner may have
lost (or that leaked) is no better than a new one chosen there and then.

No request objects: callers pass the client address and commit; mails are rows in the outbox.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

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


def confirm_pending(
    user: User, address: str, *, client_address: str | None
) -> list[OutboxMail] | None:
    """Make ``address`` (the pending one) the user's email, and tell the address it replaces
    at once, with an undo link: its mails (the caller commits and sends them). None when it no
    longer is pending (confirmed a moment ago in another tab, cancelled, or replaced)."""
    now = utcnow()
    replaced = user.email
    changed = db.session.execute(
        update(User)
        .where(User.id == user.id, User.pending_email == address, User.email == replaced)
        .values(email=address, email_confirmed_at=now, pending_email=None,
                pending_email_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        return None
    db.session.refresh(user)
    audit.record("email_changed", user_id=user.id, client_address=client_address)
    change = open_change(user, "email_change", notified_email=replaced)
    told = mail.queue(
        replaced,
        "Cambiaron el correo de tu Oficina Virtual",
        "email_replaced",
        user=user,
        when=mail.local_datetime(change.created_at),
        new_masked=mask_email(user.email),
        undo_url=undo_url(change),
        undo_validity=undo_validity(),
    )
    return [told, *tell_open_changes(user, change)]


# --- undo links -----------------------------------------------------------------------------

def _period() -> timedelta:
    return timedelta(seconds=undo_max_age())


def open_change(user: User, kind: str, *, notified_email: str | None = None) -> AccountChange:
    """Record a change of ``kind``, told to ``notified_email`` (default: the user's current
    address), the address an undo gives back. Mail it ``undo_url(change)``, and the addresses
    of the other open changes ``tell_open_changes(user, change)``."""
    change = AccountChange(user_id=user.id, kind=kind,
                           notified_email=notified_email or user.email, created_at=utcnow())
    db.session.add(change)
    db.session.flush()
    return change


def undo_url(change: AccountChange) -> str:
    """The link that undoes ``change``; any number of them work until the change closes."""
    return mail.external_url("account.undo_change", token=tokens.make_token(UNDO, {"c": change.id}))


def closes_at(change: AccountChange) -> datetime:
    """When the change stops being undoable (its links die then, whenever they were mailed)."""
    return change.created_at + _period()


def _open(user_id: int) -> list[AccountChange]:
    """The user's open changes (unspent, within the undo period), oldest first."""
    return list(db.session.scalars(
        select(AccountChange)
        .where(AccountChange.user_id == user_id, AccountChange.spent_at.is_(None),
               AccountChange.created_at > utcnow() - _period())
        .order_by(AccountChange.id)
    ))


def tell_open_changes(user: User, change: AccountChange) -> list[OutboxMail]:
    """Tell ``change`` to the address of every other open change of the user, each with the
    link of its newest open change (the one that lasts longest).

    Left out: the address ``change`` itself is told to, and the user's current address (the
    one that made the change, or is told of it anyway).
    """
    told_already = {change.notified_email.casefold(), user.email.casefold()}
    newest: dict[str, AccountChange] = {}
    for other in _open(user.id):
        if other.id != change.id and other.notified_email.casefold() not in told_already:
            newest[other.notified_email.casefold()] = other  # oldest first: the newest stays
    return [
        mail.queue(
            other.notified_email,
            "Hubo otro cambio en tu Oficina Virtual",
            "account_changed_again",
            user=user,
            kind=change.kind,
            when=mail.local_datetime(change.created_at),
            since=mail.local_datetime(other.created_at),
            current_masked=mask_email(user.email),
            pending_masked=mask_email(user.pending_email) if user.pending_email else None,
            undo_url=undo_url(other),
            until=mail.local_datetime(closes_at(other)),
        )
        for other in newest.values()
    ]


def change_for(token: str | None) -> AccountChange | None:
    """The open change a live undo token is for; None when forged, expired, spent or closed."""
    payload = tokens.read_token(UNDO, token or "", undo_max_age())
    change_id = payload.get("c") if payload else None
    if not isinstance(change_id, int):
        return None
    change = db.session.get(AccountChange, change_id)
    if change is None or change.spent_at is not None or closes_at(change) < utcnow():
        return None
    return change


def has_later_changes(change: AccountChange) -> bool:
    """Whether newer changes of the same user are still open (an undo takes them back too)."""
    return any(other.id > change.id for other in _open(change.user_id))


def recently_undone(user: User) -> bool:
    """Whether a change of the user was undone within the undo period (recovery by bill is
    refused meanwhile). Only undos set ``spent_at``."""
    return db.session.scalar(
        select(AccountChange.id)
        .where(AccountChange.user_id == user.id,
               AccountChange.spent_at > utcnow() - _period())
        .limit(1)
    ) is not None


def undo(change: AccountChange, *, client_address: str | None) -> User | None:
    """Spend the link and undo; None when another request spent it a moment ago.

    The user's newer changes are spent with it, never the older ones: an address told before
    this one keeps its own link, so the earliest address has the last word.
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
        .where(AccountChange.user_id == change.user_id, AccountChange.id > change.id,
               AccountChange.spent_at.is_(None))
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
