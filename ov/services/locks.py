"""One user's writes taking turns: what a double tap or two tabs must not do twice."""

from __future__ import annotations

from sqlalchemy import select, update

from ov.extensions import db
from ov.models import User


def take_turns(user_id: int) -> None:
    """Hold the user's writes one at a time until the transaction ends: a row lock on the
    user's row on PostgreSQL; SQLite has no row locks, so there a write that changes nothing
    takes the database's write lock, and the second transaction waits for the first to
    commit."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(User).where(User.id == user_id).values(id=User.id))
    else:
        db.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def hold(row) -> None:
    """Lock one loaded row until the transaction ends and read it again, so that a check on
    it sees what another transaction committed meanwhile: ``SELECT ... FOR UPDATE`` on
    PostgreSQL; on SQLite a write that changes nothing takes the database's write lock."""
    model = type(row)
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(model).where(model.id == row.id).values(id=model.id)
                           .execution_options(synchronize_session=False))
        db.session.refresh(row)
    else:
        db.session.refresh(row, with_for_update=True)
