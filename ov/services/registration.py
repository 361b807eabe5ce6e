"""Registration: a customer proves a bill is theirs, chooses access data, and becomes a user.

The steps' answers live in a server-side draft (``RegistrationDraft``) that expires; the
browser holds only the draft's id. ``complete()`` creates, in one transaction, the user, the
link to the account, the accepted legal version, an audit event and the welcome mail.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ov.extensions import db
from ov.models import Account, RegistrationDraft, User, UserAccount, Zone
from ov.models.common import utcnow
from ov.models.portal import username_key
from ov.services import audit, profile
from ov.services.preferences import NOTICE_COLUMNS


@dataclass(frozen=True)
class Created:
    user: User
    mail: Any  # the welcome mail, to deliver once committed


@dataclass(frozen=True)
class AlreadyRegistered:
    account: Account
    owner: User


@dataclass(frozen=True)
class UsernameTaken:
    pass


@dataclass(frozen=True)
class EmailTaken:
    pass


@dataclass(frozen=True)
class DraftGone:
    pass


Outcome = Created | AlreadyRegistered | UsernameTaken | EmailTaken | DraftGone


def zones() -> list[Zone]:
    return list(db.session.scalars(select(Zone).order_by(Zone.name)))


# --- drafts --------------------------------------------------------------------------------

def start_draft(lifetime: timedelta) -> RegistrationDraft:
    draft = RegistrationDraft(
        id=secrets.token_urlsafe(32), data={}, step=1, expires_at=utcnow() + lifetime
    )
    db.session.add(draft)
    return draft


def load_draft(draft_id: str | None, lifetime: timedelta) -> RegistrationDraft | None:
    """The live draft with that id, its life extended; None if unknown or expired."""
    if not draft_id or not isinstance(draft_id, str) or len(draft_id) > 64:
        return None
    draft = db.session.get(RegistrationDraft, draft_id)
    if draft is None:
        return None
    now = utcnow()
    if draft.expires_at <= now:
        db.session.delete(draft)
        return None
    draft.expires_at = now + lifetime
    return draft


def update_draft(draft: RegistrationDraft, *, step: int | None = None, **answers: Any) -> None:
    """Store answers (JSON values only; never a password, at most its hash)."""
    draft.data = {**draft.data, **answers}  # a new dict, so the JSON column sees the change
    if step is not None:
        draft.step = max(draft.step, step)


def purge_expired_drafts(now: datetime | None = None) -> int:
    result = db.session.execute(
        delete(RegistrationDraft).where(RegistrationDraft.expires_at <= (now or utcnow()))
    )
    return result.rowcount or 0


# --- step 1: the bill is proved by ov.services.bill_proof -----------------------------------

def owner_of(account_id: int) -> User | None:
    return db.session.scalars(
        select(User).join(UserAccount).where(UserAccount.account_id == account_id)
    ).first()


# --- step 2 ---------------------------------------------------------------------------------

def username_available(username: str) -> bool:
    key = username_key(username)
    return db.session.scalar(select(User.id).where(User.username_key == key)) is None


# --- step 3: create the user ----------------------------------------------------------------

def complete(
    draft_id: str,
    *,
    legal_version: str,
    client_address: str | None,
    queue_welcome,
) -> Outcome:
    """Create the user from the draft, exactly once.

    The draft is claimed first (step 3 → 4, in the same transaction): of two submissions of
    one draft (a double click, two tabs) only the one that claimed it goes on, and the other
    finds it finished. Of two drafts for the same account, the unique link to the account
    lets exactly one commit. ``queue_welcome(user, account)`` adds the welcome mail to the
    same transaction. A finished draft keeps the username for the "listo" page until it
    expires. The address is checked again (``profile.email_taken``): another user may have
    taken it since step 2; the draft then stays at step 3 for a new address.
    """
    claimed = db.session.execute(
        update(RegistrationDraft)
        .where(
            RegistrationDraft.id == draft_id,
            RegistrationDraft.step == 3,
            RegistrationDraft.expires_at > utcnow(),
        )
        .values(step=4)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return DraftGone()
    data = dict(db.session.get(RegistrationDraft, draft_id).data)
    if profile.email_taken(data["email"]):
        db.session.rollback()
        return EmailTaken()
    account = db.session.get(Account, data["account_id"])
    now = utcnow()
    user = User(
        username=data["username"],
        password_hash=data["password_hash"],
        email=data["email"],
        paperless_bill=bool(data.get("paperless")),
        email_notices=bool(data.get("notices")),
        # The one step-3 choice sets every kind; Mis datos > Preferencias changes them apart.
        **dict.fromkeys(NOTICE_COLUMNS, bool(data.get("notices"))),
        legal_version_accepted=legal_version,
        legal_accepted_at=now,
        password_changed_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
            db.session.add(UserAccount(user_id=user.id, account_id=account.id))
            db.session.flush()
    except IntegrityError:
        db.session.rollback()
        owner = owner_of(account.id)
        if owner is not None:
            return AlreadyRegistered(account, owner)
        return UsernameTaken()
    audit.record(
        "registration_completed",
        user_id=user.id,
        client_address=client_address,
        account_id=account.id,
        legal_version=legal_version,
    )
    welcome = queue_welcome(user, account)
    db.session.commit()
    return Created(user, welcome)
