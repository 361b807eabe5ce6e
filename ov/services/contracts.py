"""A signed-in customer's contracts: adding one with its bill, naming it, removing it.

The bill itself is proved by ``ov.services.bill_proof``; here is what the proof unlocks. One
user per contract is the unique link (``UserAccount.account_id``): adding a contract simply
tries to insert the link, so two people proving the same bill at once cannot both get it.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ov.extensions import db
from ov.models import Account, ServiceRequest, ServiceRequestEvent, User, UserAccount, utcnow
from ov.models.portal import ServiceRequestStatus
from ov.services import audit
from ov.services.registration import owner_of
from ov.services.validation import FieldError

ALIAS_LENGTH = 30
#: Besides letters and the digits 0 to 9, what a short name of a place needs.
ALIAS_SIGNS = " .,;:-_'\"()/#&º"


@dataclass(frozen=True)
class Added:
    account: Account


@dataclass(frozen=True)
class AlreadyYours:
    account: Account


@dataclass(frozen=True)
class TakenBy:
    account: Account
    owner: User


@dataclass(frozen=True)
class Blocked:
    """The user was cancelled meanwhile (another tab): nothing is linked."""
    account: Account


AddOutcome = Added | AlreadyYours | TakenBy | Blocked


def add(user_id: int, account: Account, *, client_address: str | None) -> AddOutcome:
    """Link ``account`` (already proved by its bill) to the user, audited; the caller commits.

    The insert runs in a SAVEPOINT: when the unique link refuses it, only the savepoint is
    rolled back, and the link found instead says whose the contract is.

    First a conditional update of the user's row, which changes nothing but locks it (on
    SQLite it takes the write lock): a cancellation running at once either comes after and
    removes the new link too, or came before and the user is refused here (``Blocked``).
    """
    db.session.flush()
    active = db.session.execute(
        update(User).where(User.id == user_id, User.blocked_at.is_(None))
        .values(blocked_at=None).execution_options(synchronize_session=False)
    ).rowcount
    if not active:
        return Blocked(account)
    for _attempt in range(2):  # the owner may have removed it between insert and look-up
        try:
            with db.session.begin_nested():
                db.session.add(UserAccount(user_id=user_id, account_id=account.id))
        except IntegrityError:
            owner = owner_of(account.id)
            if owner is None:
                continue
            if owner.id == user_id:
                return AlreadyYours(account)
            return TakenBy(account, owner)
        audit.record("contract_added", user_id=user_id, client_address=client_address,
                     account_id=account.id)
        return Added(account)
    raise RuntimeError("the link to the account changed twice while it was being added")


# --- the alias ------------------------------------------------------------------------------

def clean_alias(value: str | None) -> str:
    """A short name for a contract: 1 to 30 letters, digits 0-9, spaces and common signs;
    trimmed, with inner runs of spaces made one."""
    text = unicodedata.normalize("NFC", value or "")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs"} for ch in text):
        raise FieldError(
            "Tiene caracteres que no se pueden escribir con el teclado. Escríbelo de nuevo."
        )
    text = " ".join(text.split())
    if not text:
        raise FieldError(
            "Escribe un nombre para este contrato, por ejemplo «Casa» o «Local de la tienda»."
        )
    if len(text) > ALIAS_LENGTH:
        raise FieldError(
            f"Puede tener hasta {ALIAS_LENGTH} caracteres; el que escribiste tiene {len(text)}."
        )
    for ch in text:
        if not (ch.isalpha() or ch in "0123456789" or ch in ALIAS_SIGNS):
            raise FieldError(
                "Usa solo letras, números del 0 al 9, espacios y los signos "
                f". , ; : - _ ' \" ( ) / # & º. Quita «{ch}»."
            )
    return text


def link_of(user_id: int, account_id: int) -> UserAccount | None:
    """The user's own link to that contract; None for another customer's, or none."""
    return db.session.scalars(
        select(UserAccount).where(UserAccount.user_id == user_id,
                                  UserAccount.account_id == account_id)
    ).first()


def set_alias(link: UserAccount, alias: str, *, client_address: str | None) -> None:
    """Name the contract (``alias`` already cleaned), audited; the caller commits."""
    link.alias = alias
    audit.record("contract_named", user_id=link.user_id, client_address=client_address,
                 account_id=link.account_id)


# --- removing -------------------------------------------------------------------------------

class Removal(enum.Enum):
    REMOVED = "removed"
    LAST = "last"  # a user always keeps at least one contract
    NOT_FOUND = "not-found"  # not the user's (another customer's, or none)


def remove(user_id: int, account_id: int, *, client_address: str | None) -> Removal:
    """Unlink the contract from the user unless it is their last one, audited; the caller
    commits. The billing data stays: only the link goes, and the bill can add it again.

    The user's row is locked first, so two removals of one user's contracts (two tabs) take
    turns on PostgreSQL; the count of the other links is part of the delete itself, so the
    second sees the first's result (SQLite runs one write at a time anyway).
    """
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())
    others = (
        select(func.count()).select_from(UserAccount)
        .where(UserAccount.user_id == user_id, UserAccount.account_id != account_id)
        .scalar_subquery()
    )
    removed = db.session.execute(
        delete(UserAccount)
        .where(UserAccount.user_id == user_id, UserAccount.account_id == account_id, others > 0)
        .execution_options(synchronize_session=False)
    ).rowcount
    if removed:
        audit.record("contract_removed", user_id=user_id, client_address=client_address,
                     account_id=account_id)
        close_open_topics(user_id, [account_id], note=REMOVED_NOTE,
                          client_address=client_address)
        return Removal.REMOVED
    if link_of(user_id, account_id) is None:
        return Removal.NOT_FOUND
    return Removal.LAST


# --- open requests on a contract the user no longer holds -----------------------------------

REMOVED_NOTE = "Cerrada: el usuario quitó el contrato."
OPEN = (ServiceRequestStatus.RECEIVED.value, ServiceRequestStatus.IN_PROGRESS.value)


def close_open_topics(user_id: int, account_ids: list[int], *, note: str,
                      client_address: str | None, now: datetime | None = None) -> list[str]:
    """Close the user's open requests with a topic (a bill format...) on those contracts,
    each with a note in its timeline, audited; their folios. Only one such request may be
    open per contract and topic, so one left open would refuse the contract's next holder."""
    if not account_ids:
        return []
    now = now or utcnow()
    rows = list(db.session.scalars(
        select(ServiceRequest).where(ServiceRequest.user_id == user_id,
                                     ServiceRequest.account_id.in_(account_ids),
                                     ServiceRequest.topic.is_not(None),
                                     ServiceRequest.status.in_(OPEN))
        .order_by(ServiceRequest.id)
    ))
    closed = ServiceRequestStatus.CLOSED.value
    for row in rows:
        row.status = closed
        db.session.add(ServiceRequestEvent(request_id=row.id, at=now, status=closed,
                                           note=note))
        audit.record("service_request_closed", user_id=user_id,
                     client_address=client_address, folio=row.folio,
                     account_id=row.account_id, topic=row.topic)
    return [row.folio for row in rows]
