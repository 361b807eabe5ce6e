"""Demo data: the seed's contract is there, the bills add up, and a seed gives one result."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ov.extensions import db
from ov.models import Account, Invoice, InvoiceLine, Payment, Reading, UserAccount, Zone
from ov.services import demo_data

pytestmark = pytest.mark.usefixtures("clean_db")

TODAY = date(2026, 3, 18)
ACCOUNTS = 20


def empty_database() -> None:
    db.session.remove()
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())


def checksum() -> str:
    """A digest of the columns a customer sees, in id order."""
    digest = hashlib.sha256()
    queries = [
        select(Account.id, Account.zone_id, Account.number, Account.check_digit,
               Account.holder_name, Account.street, Account.postal_code).order_by(Account.id),
        select(Invoice.id, Invoice.number, Invoice.issue_date, Invoice.due_date,
               Invoice.consumption_m3, Invoice.total, Invoice.paid_at).order_by(Invoice.id),
        select(InvoiceLine.id, InvoiceLine.concept, InvoiceLine.amount).order_by(InvoiceLine.id),
        select(Reading.id, Reading.read_on, Reading.value, Reading.reading_type)
        .order_by(Reading.id),
        select(Payment.id, Payment.invoice_id, Payment.paid_on, Payment.amount,
               Payment.channel_name, Payment.reference).order_by(Payment.id),
    ]
    for query in queries:
        for row in db.session.execute(query):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_the_seed_contract_is_there_unregistered_with_two_years_of_bills(app):
    today = date.today()
    with app.app_context():
        demo_data.load_demo_data(accounts=ACCOUNTS, today=today)
        account = db.session.scalars(
            select(Account).join(Zone).where(
                Zone.name == "Nuevo Laredo", Account.number == "8295249"
            )
        ).one()
        invoices = db.session.scalars(
            select(Invoice).where(Invoice.account_id == account.id).order_by(Invoice.issue_date)
        ).all()
        assert len(invoices) >= 24
        assert invoices[-1].number == "ZE40389382"
        assert invoices[-1].zone_id == account.zone_id
        statuses = {invoice.status_on(today) for invoice in invoices}
        assert statuses == {"paid", "pending", "overdue"}
        kinds = {invoice.reading_type for invoice in invoices}
        assert {"real", "estimated"} <= kinds
        readings = db.session.scalars(
            select(Reading.reading_type).where(Reading.account_id == account.id)
        ).all()
        assert {"real", "estimated"} <= set(readings)
        payments = db.session.scalar(
            select(func.count(Payment.id)).where(Payment.account_id == account.id)
        )
        assert payments >= 20
        linked = db.session.scalar(
            select(func.count(UserAccount.id)).where(UserAccount.account_id == account.id)
        )
        assert linked == 0


def test_bills_add_up(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=ACCOUNTS, today=TODAY)
        line_sums = dict(
            db.session.execute(
                select(InvoiceLine.invoice_id, func.sum(InvoiceLine.amount))
                .group_by(InvoiceLine.invoice_id)
            ).all()
        )
        invoices = db.session.scalars(select(Invoice)).all()
        assert len(invoices) > ACCOUNTS * 12
        for invoice in invoices:
            assert invoice.total == invoice.subtotal + invoice.tax, invoice.number
            expected_tax = (invoice.subtotal * Decimal("0.16")).quantize(Decimal("0.01"))
            assert invoice.tax == expected_tax, invoice.number
            assert Decimal(str(line_sums[invoice.id])).quantize(Decimal("0.01")) == (
                invoice.subtotal
            ), invoice.number
            assert invoice.consumption_m3 == invoice.current_reading - invoice.previous_reading
            assert invoice.period_start <= invoice.period_end < invoice.issue_date
            assert invoice.issue_date < invoice.due_date
        for line in db.session.scalars(select(InvoiceLine)):
            exact = line.quantity * line.unit_price
            assert abs(line.amount - exact) <= Decimal("0.005"), line.concept


def test_invoice_numbers_are_ten_characters_unique_per_zone(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=ACCOUNTS, today=TODAY)
        numbers = db.session.execute(select(Invoice.zone_id, Invoice.number)).all()
        assert all(re.fullmatch(r"[A-Z]{2}\d{8}", number) for _, number in numbers)
        assert len(set(numbers)) == len(numbers)
        accounts = db.session.scalars(select(Account.number)).all()
        assert all(re.fullmatch(r"\d{1,8}", number) for number in accounts)


def test_paid_invoices_match_their_payments_and_nothing_is_dated_in_the_future(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=ACCOUNTS, today=TODAY)
        assert db.session.scalar(select(func.max(Payment.paid_on))) < TODAY
        assert db.session.scalar(select(func.max(Invoice.issue_date))) < TODAY
        rows = db.session.execute(
            select(Invoice.total, Invoice.paid_at, Payment.amount, Payment.status)
            .join(Payment, Payment.invoice_id == Invoice.id)
        ).all()
        assert rows
        for total, paid_at, amount, status in rows:
            assert amount == total
            assert (paid_at is not None) == (status == "applied")
        channels = set(db.session.scalars(select(Payment.channel)))
        assert channels <= {"bank", "store", "transfer"}


def test_the_same_seed_gives_the_same_data_and_another_seed_does_not(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=ACCOUNTS, seed=7, today=TODAY)
        first = checksum()
        empty_database()
        demo_data.load_demo_data(accounts=ACCOUNTS, seed=7, today=TODAY, batch_accounts=3)
        again = checksum()
        empty_database()
        demo_data.load_demo_data(accounts=ACCOUNTS, seed=8, today=TODAY)
        other = checksum()
    assert first == again
    assert other != first


def test_a_later_day_of_the_same_month_only_adds_payments(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=ACCOUNTS, today=date(2026, 3, 2))
        early = db.session.execute(
            select(Invoice.id, Invoice.number, Invoice.total).order_by(Invoice.id)
        ).all()
        early_payments = db.session.scalar(select(func.count(Payment.id)))
        empty_database()
        demo_data.load_demo_data(accounts=ACCOUNTS, today=date(2026, 3, 28))
        late = db.session.execute(
            select(Invoice.id, Invoice.number, Invoice.total).order_by(Invoice.id)
        ).all()
        late_payments = db.session.scalar(select(func.count(Payment.id)))
    assert early == late
    assert late_payments > early_payments


def test_households_burn_plausible_gas_more_in_winter(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=60, today=TODAY)
        monthly = db.session.execute(
            select(Invoice.period_end, Invoice.consumption_m3)
            .join(Account, Account.id == Invoice.account_id)
            .where(Account.tariff_code == "RES", Invoice.reading_type == "real")
        ).all()
    average = sum(m3 for _, m3 in monthly) / len(monthly)
    assert 15 <= average <= 60
    winter = [m3 for end, m3 in monthly if end.month in (1, 2)]
    summer = [m3 for end, m3 in monthly if end.month in (7, 8)]
    assert sum(winter) / len(winter) > 1.2 * sum(summer) / len(summer)


def test_the_command_loads_once_with_if_empty(app):
    runner = app.test_cli_runner()
    args = ["demo-data", "--accounts", "5", "--months", "3", "--if-empty"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert "8295249" in first.output
    with app.app_context():
        counted = db.session.scalar(select(func.count(Account.id)))
        invoices = db.session.scalar(select(func.count(Invoice.id)))
    assert counted == 5
    second = runner.invoke(args=args)
    assert second.exit_code == 0, second.output
    assert "not loaded" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == counted
        assert db.session.scalar(select(func.count(Invoice.id))) == invoices
    refused = runner.invoke(args=["demo-data", "--accounts", "5"])
    assert refused.exit_code != 0
    assert "already hold accounts" in refused.output


def test_zones_list_their_cities(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=1, months=1, today=TODAY)
        zones = {zone.name: zone.cities for zone in db.session.scalars(select(Zone))}
    assert {"Monterrey", "Saltillo", "Nuevo Laredo", "Bajío Norte", "Bajío Sur"} <= set(zones)
    assert zones["Bajío Norte"] == "San Luis Potosí, Aguascalientes, Zacatecas"
    assert zones["Bajío Sur"] == "Celaya, Salamanca, Irapuato, León, Silao"


def test_rows_added_after_a_load_get_fresh_ids(app):
    with app.app_context():
        demo_data.load_demo_data(accounts=5, months=2, today=TODAY)
        highest = db.session.scalar(select(func.max(Payment.id)))
        invoice = db.session.scalars(select(Invoice).order_by(Invoice.id.desc()).limit(1)).one()
        payment = Payment(
            account_id=invoice.account_id,
            invoice_id=invoice.id,
            paid_on=TODAY,
            amount=invoice.total,
            channel="store",
            channel_name="OXXO",
            reference="000000000001",
        )
        db.session.add(payment)
        db.session.commit()
        assert payment.id > highest
        assert payment.status == "applied"
