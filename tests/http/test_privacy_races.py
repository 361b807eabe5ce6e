"""Cancelling the user at the same moment as something else (two tabs, a double click):
barriers, no clocks. On SQLite the writes take turns; the ``postgres`` variants run them on
PostgreSQL, where the user's row lock does it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, OutboxMail, PrivacyRequest, User, UserAccount
from ov.services import contracts, privacy
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")
BACKENDS = [pytest.param("any", id="default"),
            pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


def run_together(app, *jobs) -> list:
    barrier = threading.Barrier(len(jobs))
    results, errors = [], []

    def run(job):
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results.append(job())
                db.session.commit()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return results


def customer_with_a_spare_contract(app) -> tuple[int, int]:
    with app.app_context():
        user, _ = make_customer()
        _, spare = make_customer(username="otraPersona2", email="x@ejemplo.mx",
                                 number="5550001")
        db.session.execute(UserAccount.__table__.delete().where(
            UserAccount.account_id == spare.id))
        db.session.commit()
        return user.id, spare.id


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_double_cancel_makes_one_request_and_one_mail(app, backend):
    with app.app_context():
        user, _ = make_customer()
        db.session.commit()
        user_id = user.id

    def cancel():
        return privacy.cancel(db.session.get(User, user_id), client_address=None)

    results = run_together(app, cancel, cancel)
    assert sorted(type(r).__name__ for r in results) == ["Cancelled", "NoneType"]
    with app.app_context():
        assert len(db.session.scalars(select(PrivacyRequest)).all()) == 1
        subjects = db.session.scalars(select(OutboxMail.subject)).all()
    assert subjects.count("Cancelaste tu usuario de la Oficina Virtual") == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancelling_while_adding_a_contract_leaves_no_link(app, backend):
    user_id, spare_id = customer_with_a_spare_contract(app)

    def add():
        return contracts.add(user_id, db.session.get(Account, spare_id), client_address=None)

    def cancel():
        return privacy.cancel(db.session.get(User, user_id), client_address=None)

    results = run_together(app, add, cancel)
    with app.app_context():
        assert db.session.get(User, user_id).blocked_at is not None
        assert db.session.scalars(select(UserAccount).where(
            UserAccount.user_id == user_id)).all() == []
    assert {type(r).__name__ for r in results} <= {"Added", "Blocked", "Cancelled"}


def test_a_cancelled_user_cannot_add_a_contract(app):
    user_id, spare_id = customer_with_a_spare_contract(app)
    with app.app_context():
        privacy.cancel(db.session.get(User, user_id), client_address=None)
        outcome = contracts.add(user_id, db.session.get(Account, spare_id), client_address=None)
        assert isinstance(outcome, contracts.Blocked)
        assert db.session.scalars(select(UserAccount).where(
            UserAccount.user_id == user_id)).all() == []
