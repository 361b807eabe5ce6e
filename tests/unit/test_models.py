"""The schema's rules hold in the database itself, whatever code writes to it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from ov.extensions import db
from ov.models import (
    Account,
    Invoice,
    InvoiceStatus,
    Notice,
    User,
    UserAccount,
    Zone,
    username_key,
)

pytestmark = pytest.mark.usefixtures("clean_db")


def make_zone(code: str = "NLD", name: str = "Nuevo Laredo", id_: int = 3) -> Zone:
    zone = Zone(id=id_, code=code, name=name, cities=name)
    db.session.add(zone)
    return zone


def make_account(zone: Zone, number: str = "8295249") -> Account:
    account = Account(
        zone=zone,
        number=number,
        check_digit=7,
        holder_name="Miguel Granados Ylarrañaga",
        street="Francisco I. Madero",
        street_number="2381",
        colonia="Madero",
        city="Nuevo Laredo",
        state="Tamaulipas",
        postal_code="88026",
        meter_serial="AC197332157",
        tariff_code="RES",
    )
    db.session.add(account)
    return account


def make_invoice(account: Account, number: str = "ZE40389382", **overrides) -> Invoice:
    values = {
        "account": account,
        "zone_id": account.zone_id,
        "number": number,
        "issue_date": date(2026, 1, 28),
        "period_start": date(2025, 12, 28),
        "period_end": date(2026, 1, 27),
        "due_date": date(2026, 2, 17),
        "previous_reading": 5101,
        "current_reading": 5147,
        "reading_type": "real",
        "consumption_m3": 46,
        "subtotal": Decimal("519.73"),
        "tax": Decimal("83.16"),
        "total": Decimal("602.89"),
    }
    values.update(overrides)
    invoice = Invoice(**values)
    db.session.add(invoice)
    return invoice


def make_user(username: str = "usuPDFactura1") -> User:
    user = User(username=username, password_hash="scrypt:not-a-real-hash", email="a@b.mx")
    db.session.add(user)
    return user


def test_account_number_is_unique_within_a_zone(app):
    with app.app_context():
        zone = make_zone()
        make_account(zone)
        db.session.commit()
        make_account(zone)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_the_same_account_number_may_exist_in_another_zone(app):
    with app.app_context():
        make_account(make_zone())
        make_account(make_zone("MTY", "Monterrey", 1))
        db.session.commit()
        assert db.session.scalar(select(db.func.count(Account.id))) == 2


def test_invoice_number_is_unique_within_a_zone(app):
    with app.app_context():
        zone = make_zone()
        account = make_account(zone)
        other = make_account(zone, "40989917")
        db.session.flush()
        make_invoice(account)
        db.session.commit()
        make_invoice(other)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_the_same_invoice_number_may_exist_in_another_zone(app):
    with app.app_context():
        first = make_account(make_zone())
        second = make_account(make_zone("MTY", "Monterrey", 1))
        db.session.flush()
        make_invoice(first)
        make_invoice(second)
        db.session.commit()
        assert db.session.scalar(select(db.func.count(Invoice.id))) == 2


def test_invoice_number_must_have_ten_characters(app):
    with app.app_context():
        account = make_account(make_zone())
        db.session.flush()
        make_invoice(account, number="ZE4038938")
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_negative_amounts_are_refused(app):
    with app.app_context():
        account = make_account(make_zone())
        db.session.flush()
        make_invoice(account, total=Decimal("-1.00"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_an_account_belongs_to_one_portal_user_only(app):
    with app.app_context():
        account = make_account(make_zone())
        first, second = make_user("primero1"), make_user("segundo2")
        db.session.flush()
        db.session.add(UserAccount(user=first, account=account))
        db.session.commit()
        db.session.add(UserAccount(user=second, account=account))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_a_user_may_link_several_accounts(app):
    with app.app_context():
        zone = make_zone()
        accounts = [make_account(zone), make_account(zone, "40989917")]
        user = make_user()
        db.session.flush()
        for account in accounts:
            db.session.add(UserAccount(user=user, account=account))
        db.session.commit()
        assert len(db.session.get(User, user.id).links) == 2


def test_usernames_are_unique_regardless_of_case(app):
    with app.app_context():
        make_user("usuPDFactura1")
        db.session.commit()
        assert db.session.scalar(select(User.username_key)) == "usupdfactura1"
        make_user("USUPDFACTURA1")
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    assert username_key(" MiUsuario9 ") == "miusuario9"


def test_timestamps_come_back_aware_in_utc(app):
    with app.app_context():
        user = make_user()
        mexico = timezone(timedelta(hours=-6))
        user.last_login_at = datetime(2026, 2, 18, 9, 30, tzinfo=mexico)
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(User, user.id)
        assert stored.last_login_at == datetime(2026, 2, 18, 15, 30, tzinfo=UTC)
        assert stored.last_login_at.utcoffset() == timedelta(0)
        assert stored.created_at.tzinfo is not None


def test_naive_timestamps_are_refused(app):
    with app.app_context():
        user = make_user()
        db.session.flush()
        naive = datetime(2026, 2, 18, 9, 30)  # naive on purpose: the mistake under test
        db.session.add(Notice(user_id=user.id, title="Aviso", body="Texto", created_at=naive))
        with pytest.raises(StatementError, match="naive datetime"):
            db.session.commit()
        db.session.rollback()


@pytest.mark.parametrize(
    ("paid", "day", "expected"),
    [
        (True, date(2026, 3, 1), InvoiceStatus.PAID),
        (False, date(2026, 2, 17), InvoiceStatus.PENDING),
        (False, date(2026, 2, 18), InvoiceStatus.OVERDUE),
    ],
)
def test_invoice_status_in_python_and_in_sql_agree(app, paid, day, expected):
    with app.app_context():
        account = make_account(make_zone())
        db.session.flush()
        invoice = make_invoice(account)
        if paid:
            invoice.paid_at = datetime(2026, 2, 10, 17, 0, tzinfo=UTC)
        db.session.commit()
        assert invoice.status_on(day) is expected
        in_sql = db.session.scalar(select(Invoice.status_expression(day)))
        assert in_sql == expected.value
