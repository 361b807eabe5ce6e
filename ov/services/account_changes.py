"""Changes to who controls a user, told to the old mailbox with a way to undo them.

Two mechanisms, for every journey that changes a user's access (recovery by bill today,
"Mis datos" and "Añadir contrato" later):

* **Pending email.** A new address never replaces the current one at once: it waits in
  ``User.pending_email`` until the link mailed to it is opened and confirmed. Until then
  every mail still goes to the current address. Confirming it is a change of its own: the
  address it replaces is told at once, with an undo link.
* **Undo link.** ``open_change`` records the change and the address it is told to (the one
  the user had). While the change is *open* its link works once, and ``undo`` gives that
  address back, cancels a pending one, and makes the password unusable: the session stamp
  follows the password hash, so every session ends, and whoever opened the link chooses a new
  password through the ordinary reset form.

**The invariant.** The address that was on the account before the first change of a chain
always keeps a way back for ``OV_UNDO_LINK_DAYS`` from the last change it was told of, and
no sequence of recoveries, confirmations and undos by whoever holds the bill ends with them
holding the account while that address holds no working link. Four rules give it:

1. *Changes close together, as a chain.* A chain is the user's run of events (changes, and
   the undos that spend them) with no gap longer than the period; its changes stay open until
   the period has passed since its last event, whenever each was made. A link mailed to the
   first address can therefore never close before one mailed to anybody else.
2. *An undo spends its own change and the newer ones, never older ones.* The first address's
   oldest open change is the chain's first, so its undo spends every other link, while a
   bill-holder's undo leaves it open.
3. *Every event is told to every address with an open change*, except the one whose undo
   link was opened (it holds everything then) and the one on the account, told of a recovery
   by the change itself: later changes by ``tell_open_changes`` (a confirmed address too, as
   it may not have chosen the password), undos by the mails ``undo`` returns, which also tell the
   address the undo replaced, plainly, even if it has no change left to undo. Each mail
   carries the link of that address's *oldest* open change, the one that spends the most,
   freshly signed, so the link lasts the period from the last event it was told of.
4. *An undo holds recovery by bill back*: for the period after it, and for good with any
   bill issued on or before it (``bill_refused``), so the bill that was just beaten cannot
   take the account straight back, not even once the period is over.

Confirming a pending address that has an open change of its own was considered as an undo
in disguise (spending the changes since). It is not needed with the rules above, and it
would keep the password of whoever typed that address while spending the first address's
links; a confirmation stays a change of its own, told to the address it replaces.

Restoring the previous password hash instead was considered and left out: after two changes
in a row it would give back the first intruder's password, and a password the owner may have
lost (or that leaked) is no better than a new one chosen there and then.

No request objects: callers pass the client address and commit; mails are rows in the outbox.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from ov.extensions import db
from ov.models import AccountChange, OutboxMail, User, email_key, utcnow
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
        .values(email=address, email_key=email_key(address), email_confirmed_at=now,
                pending_email=None, pending_email_at=None)
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
        undo_url=link_for(user, replaced),
        undo_validity=undo_validity(),
    )
    return [told, *tell_open_changes(user, change, tell_current=True)]


# --- undo links -----------------------------------------------------------------------------

def _period() -> timedelta:
    return timedelta(seconds=undo_max_age())


def open_change(user: User, kind: str, *, notified_email: str | None = None) -> AccountChange:
    """Record a change of ``kind``, told to ``notified_email`` (default: the user's current
    address), the address an undo gives back. Mail it ``link_for(user, that address)``, and
    the addresses of the other open changes ``tell_open_changes(user, change)``."""
    change = AccountChange(user_id=user.id, kind=kind,
                           notified_email=notified_email or user.email, created_at=utcnow())
    db.session.add(change)
    db.session.flush()
    return change


def undo_url(change: AccountChange) -> str:
    """The link that undoes ``change``; any number of them work until the change closes."""
    return mail.external_url("account.undo_change", token=tokens.make_token(UNDO, {"c": change.id}))


def _changes(user_id: int) -> list[AccountChange]:
    return list(db.session.scalars(
        select(AccountChange).where(AccountChange.user_id == user_id).order_by(AccountChange.id)
    ))


def _chain(changes: list[AccountChange]) -> tuple[datetime, datetime] | None:
    """When the live chain of these changes began and when its last event was (a change made
    or undone); None when the last event is older than the period."""
    events = sorted({moment for change in changes
                     for moment in (change.created_at, change.spent_at) if moment}, reverse=True)
    if not events or utcnow() - events[0] > _period():
        return None
    start = events[0]
    for moment in events[1:]:
        if start - moment > _period():
            break
        start = moment
    return start, events[0]


def _open(user_id: int) -> list[AccountChange]:
    """The user's open changes (unspent, in the live chain), oldest first."""
    changes = _changes(user_id)
    chain = _chain(changes)
    if chain is None:
        return []
    return [change for change in changes
            if change.spent_at is None and change.created_at >= chain[0]]


def recovery_open_until(user_id: int) -> datetime | None:
    """While the live chain holds a recovery by bill: when it closes (None otherwise).

    Whoever holds a bill can take a user over, but its owner can still undo that until
    then; cancelling the user would take that way back away, so it waits. A change made
    from Mi oficina (with the password) does not hold anything back: the address it replaced
    keeps its undo link, and cancelling is the owner's right.
    """
    opened = _open(user_id)
    if not any(change.kind == "recovery_by_bill" for change in opened):
        return None
    return closes_at(opened[0])


def closes_at(change: AccountChange) -> datetime:
    """When the chain of an open change closes unless something else happens: the period
    after its last event (its links die then, whenever they were mailed)."""
    chain = _chain(_changes(change.user_id))
    return (chain[1] if chain else change.created_at) + _period()


def _oldest_open(user_id: int) -> dict[str, AccountChange]:
    """Each address with an open change (case-folded) and its oldest open change: the one
    whose undo spends the most."""
    oldest: dict[str, AccountChange] = {}
    for change in _open(user_id):
        oldest.setdefault(change.notified_email.casefold(), change)
    return oldest


def link_for(user: User, address: str) -> str | None:
    """The undo link to mail ``address``: its oldest open change's, freshly signed."""
    change = _oldest_open(user.id).get(address.casefold())
    return undo_url(change) if change else None


def tell_open_changes(
    user: User, change: AccountChange, *, tell_current: bool = False
) -> list[OutboxMail]:
    """Tell ``change`` to the address of every other open change of the user, each with the
    link of its oldest open change.

    Left out: the address ``change`` itself is told to, and, unless ``tell_current``, the
    user's current address (told of the change anyway). A confirmation tells it: whoever
    opened the link there may not be whoever chose the password, and its own open change is
    the way to take the password back too.
    """
    told_already = {change.notified_email.casefold()}
    if not tell_current:
        told_already.add(user.email.casefold())
    until = mail.local_datetime(closes_at(change))
    return [
        mail.queue(
            other.notified_email,
            "Hubo otro cambio en tu Oficina Virtual",
            "account_changed_again",
            user=user,
            kind=change.kind,
            here=address == user.email.casefold(),
            when=mail.local_datetime(change.created_at),
            since=mail.local_datetime(other.created_at),
            current_masked=mask_email(user.email),
            pending_masked=mask_email(user.pending_email) if user.pending_email else None,
            undo_url=undo_url(other),
            until=until,
        )
        for address, other in _oldest_open(user.id).items() if address not in told_already
    ]


def change_for(token: str | None) -> AccountChange | None:
    """The open change a live undo token is for; None when forged, expired, spent or closed."""
    payload = tokens.read_token(UNDO, token or "", undo_max_age())
    change_id = payload.get("c") if payload else None
    if not isinstance(change_id, int):
        return None
    change = db.session.get(AccountChange, change_id)
    if change is None or all(other.id != change.id for other in _open(change.user_id)):
        return None
    return change


def has_later_changes(change: AccountChange) -> bool:
    """Whether newer changes of the same user are still open (an undo takes them back too)."""
    return any(other.id > change.id for other in _open(change.user_id))


def bill_refused(user: User, issued: date) -> bool:
    """Whether a bill issued on ``issued`` no longer proves the user: within the period after
    an undo, no bill does; after it, only one issued later than the last undo (Mexico City's
    calendar, the one bills are dated by). Only undos set ``spent_at``."""
    last_undo = db.session.scalar(
        select(func.max(AccountChange.spent_at)).where(AccountChange.user_id == user.id)
    )
    if last_undo is None:
        return False
    return (utcnow() - last_undo <= _period()
            or issued <= last_undo.astimezone(mail.MEXICO_CITY).date())


def undo(
    change: AccountChange, *, client_address: str | None
) -> tuple[User, list[OutboxMail]] | None:
    """Spend the link and undo: the user and the mails that tell it (the caller commits and
    sends them); None when another request spent it a moment ago.

    The user's newer changes are spent with it, never the older ones: an address told before
    this one keeps its own link, so the earliest address has the last word. The address the
    undo replaces is told, and so is every other address with a change still open.
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
    replaced = user.email
    user.email = change.notified_email
    user.email_confirmed_at = now  # the link was opened in that mailbox
    user.pending_email = user.pending_email_at = None
    user.password_hash = passwords.hash_password(secrets.token_urlsafe(32))  # nobody knows it
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    audit.record("account_change_undone", user_id=user.id, client_address=client_address,
                 change=change.kind, change_id=change.id)
    return user, _tell_undo(user, replaced, now)


def _tell_undo(user: User, replaced: str, when: datetime) -> list[OutboxMail]:
    """The undo, told to the address it replaced (if it did) and to every other address with
    an open change, each with its oldest open change's link if it has one."""
    oldest = _oldest_open(user.id)
    told = [address for address in oldest if address != user.email.casefold()]
    if replaced.casefold() != user.email.casefold() and replaced.casefold() not in oldest:
        told.append(replaced)
    mails = []
    for address in told:
        other = oldest.get(address.casefold())
        mails.append(mail.queue(
            other.notified_email if other else address,
            "Deshicieron un cambio en tu Oficina Virtual",
            "account_change_undone",
            user=user,
            when=mail.local_datetime(when),
            restored_masked=mask_email(user.email),
            replaced=address.casefold() == replaced.casefold(),
            undo_url=undo_url(other) if other else None,
            until=mail.local_datetime(when + _period()),
        ))
    return mails
