"""bench/apps/signed_floor.py, the benchmarks' signed-in floor: it does the checks a signed-in
page must do, and shows that user's own last invoices, at the size asked for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bench.apps import signed_floor
from ov.extensions import db
from ov.models import Invoice, User, utcnow
from tests.conftest import TEST_REDIS_URL
from tests.support.factories import make_customer, make_invoices

pytestmark = pytest.mark.redis


@pytest.fixture
def floor(app, clean_db, monkeypatch):
    with app.app_context():
        user, account = make_customer()
        make_invoices(account, 5)
        db.session.commit()
        user_id = user.id
        newest = list(db.session.scalars(
            select(Invoice.number).where(Invoice.account_id == account.id)
            .order_by(Invoice.issue_date.desc()).limit(3)))
    monkeypatch.setenv("OV_DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("OV_REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("BENCH_USER_ID", str(user_id))
    monkeypatch.setenv("BENCH_PAGE_BYTES", "12000")
    floor_app = signed_floor.create_app()
    yield floor_app.test_client(), user_id, newest
    held = floor_app.extensions["signed_floor"]
    held["engine"].dispose()
    held["store"].close()


def test_the_page_shows_the_users_last_three_invoices_at_the_size_asked(floor):
    client, _, newest = floor
    page = client.get("/")
    assert page.status_code == 200
    assert len(page.data) == 12000
    html = page.get_data(as_text=True)
    assert [html.index(number) for number in newest] == sorted(
        html.index(number) for number in newest)
    assert html.count("<tr>") == 3


@pytest.mark.parametrize("change", ["cancelled", "new password"])
def test_the_session_ends_when_the_user_is_cancelled_or_the_password_changes(app, floor,
                                                                             change):
    client, user_id, _ = floor
    with app.app_context():
        user = db.session.get(User, user_id)
        if change == "cancelled":
            user.blocked_at = utcnow()
        else:
            user.password_hash = "another hash"
        db.session.commit()
    assert client.get("/").status_code == 403
