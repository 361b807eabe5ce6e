"""The demo's requests and claims: other customers' (never the seed's contract), in every
status with their timelines, filed by phone (no portal user), a few dozen, and the same
rows for the same seed and day."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ov.extensions import db
from ov.models import Account, Invoice, ServiceRequest
from ov.services import demo_data
from tests.unit.test_demo_data import empty_database

pytestmark = pytest.mark.usefixtures("clean_db")

TODAY = date(2026, 3, 18)
ORDER = ["received", "in_progress", "resolved", "closed"]


def rows() -> list[tuple]:
    found = db.session.scalars(select(ServiceRequest).options(
        selectinload(ServiceRequest.events)).order_by(ServiceRequest.id))
    return [(r.folio, r.account_id, r.category, r.kind, r.status, r.created_at, r.invoice_id,
             r.answer_due_on, r.body, [(e.at, e.status, e.author, e.note) for e in r.events])
            for r in found]


def test_neighbours_requests_in_every_status_with_their_timelines(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=20, today=TODAY)
        filed = demo_data.load_demo_requests(today=TODAY)
        seed = db.session.scalars(select(Account.id).where(
            Account.number == demo_data.SEED_ACCOUNT_NUMBER)).one()
        made = rows()
        assert filed == len(made) == demo_data.DEMO_REQUESTS
        assert {row[1] for row in made}.isdisjoint({seed})
        assert {row[4] for row in made} == set(ORDER)
        assert {row[2] for row in made} == set(demo_data.DEMO_TEXTS)
        assert {row[3] for row in made} == {"claim", "request"}
        assert all(r.user_id is None for r in db.session.scalars(select(ServiceRequest)))
        for row in made:
            timeline = row[9]
            assert [event[1] for event in timeline] == ORDER[:ORDER.index(row[4]) + 1]
            assert all(event[2] == "staff" for event in timeline)
            assert row[7] > row[5].date()  # an answer-by date after the day it was filed
        # Claims about a bill name one of that contract's invoices.
        assert any(row[6] is not None for row in made if row[2] == "bill_clarification")
        # ... filed after that bill was issued, and nothing happens after the demo's day.
        issued = dict(db.session.execute(select(Invoice.id, Invoice.issue_date)).all())
        for row in made:
            if row[6] is not None:
                assert row[5].date() >= issued[row[6]], row[0]
            assert all(event[0].date() <= TODAY for event in row[9])
        assert len({row[0] for row in made}) == len(made)


def test_the_same_seed_and_day_give_the_same_requests(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=20, today=TODAY)
        demo_data.load_demo_requests(today=TODAY)
        first = [row[1:] for row in rows()]
        empty_database()
        demo_data.load_demo_data(accounts=20, today=TODAY)
        demo_data.load_demo_requests(today=TODAY)
        assert [row[1:] for row in rows()] == first


def test_the_demo_data_command_files_them_after_the_bills(app):
    result = app.test_cli_runner().invoke(args=["demo-data", "--accounts", "5",
                                                "--today", "2026-03-18"])
    assert result.exit_code == 0, result.output
    assert f"and {demo_data.DEMO_REQUESTS} requests and claims of other customers." in (
        result.output)
    again = app.test_cli_runner().invoke(args=["demo-data", "--if-empty"])
    assert again.exit_code == 0 and "not loaded" in again.output
    with app.app_context():
        assert len(rows()) == demo_data.DEMO_REQUESTS
