"""A signed-in customer's contracts: adding one with its bill, naming it, removing it.

The bill itself is proved by ``ov.services.bill_proof``; here is what the proof unlocks. One
user per contract is the unique link (``UserAccount.account_id``): adding a contract simply
tries to insert the link, so two people proving the same bill at once cannot both get it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from ov.extensions import db
from ov.models import Account, User, UserAccount
from ov.services import audit
from ov.services.registration import owner_of


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


AddOutcome = Added | AlreadyYours | TakenBy


def add(user_id: int, account: Account, *, client_address: str | None) -> AddOutcome:
    """Link ``account`` (already proved by its bill) to the user, audited; the caller commits.

    The insert runs in a SAVEPOINT: when the unique link refuses it, only the savepoint is
    rolled back, and the link found instead says whose the contract is.
    """
    db.session.flush()
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
