"""Payment references: the format, its check pair, and which coupon each bill gets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ov.extensions import db
from ov.models import Account, Invoice, InvoiceStatus, Zone
from ov.services import references
from ov.services.demo_data import SEED_ACCOUNT_NUMBER, SEED_INVOICE_NUMBER
from ov.services.references import InvalidReference

TODAY = date(2026, 11, 26)


def account(number: str = "8295249", zone_id: int = 3, id_: int = 1) -> Account:
    """A transient account: the reference needs no database."""
    return Account(id=id_, zone_id=zone_id, number=number, check_digit=7)


def invoice(total: str = "529.71", due: date = date(2026, 11, 30), *, id_: int = 24,
            account_id: int = 1, paid: bool = False) -> Invoice:
    return Invoice(
        id=id_, account_id=account_id, number=f"ZE{id_:08d}", total=Decimal(total),
        due_date=due, paid_at=datetime(2026, 11, 2, 18, tzinfo=UTC) if paid else None,
    )


# --- the format ----------------------------------------------------------------------------

def test_the_format_reads_field_by_field():
    reference = references.build(account(), invoice(), Decimal("529.71"), date(2026, 11, 30))
    assert len(reference) == references.LENGTH == 36
    assert reference[:2] == "03"  # Zone.id
    assert reference[2:10] == "08295249"  # account, zero-padded
    assert reference[10:20] == "0000000024"  # Invoice.id, zero-padded
    assert reference[20:28] == "00052971"  # centavos
    assert reference[28:34] == "261130"  # YYMMDD
    assert int(reference) % 97 == 1  # ISO 7064 MOD 97-10
    assert reference == "030829524900000000240005297126113034"


def test_parse_gives_back_what_build_encoded():
    reference = references.build(account("40989917", zone_id=12), invoice(id_=9_876_543_210),
                                 Decimal("999999.99"), date(2099, 12, 31))
    parsed = references.parse(reference)
    assert parsed == references.ParsedReference(
        reference=reference, zone_id=12, account_number="40989917", invoice_id=9_876_543_210,
        amount=Decimal("999999.99"), due=date(2099, 12, 31),
    )
    assert not parsed.is_balance


def test_a_balance_reference_has_no_invoice():
    reference = references.build(account("7"), None, Decimal("0.01"), date(2026, 12, 1))
    parsed = references.parse(reference)
    assert parsed.is_balance and parsed.invoice_id is None
    assert parsed.account_number == "7" and parsed.amount == Decimal("0.01")


def test_format_for_people_groups_by_four_and_parse_accepts_it_back():
    reference = "030829524900000000240005297126113034"
    shown = references.format_for_people(reference)
    assert shown == "0308 2952 4900 0000 0024 0005 2971 2611 3034"
    assert references.parse(shown).reference == reference
    assert references.parse(shown.replace(" ", "-")).reference == reference
    assert references.is_valid(f"  {shown}\n")


@pytest.mark.parametrize("amount", ["0", "-1.00", "0.001", "1000000.00"])
def test_amounts_that_cannot_be_encoded_are_refused(amount):
    with pytest.raises(ValueError):
        references.build(account(), invoice(), Decimal(amount), date(2026, 11, 30))


def test_a_bill_of_another_account_is_refused():
    with pytest.raises(ValueError, match="not a bill"):
        references.build(account(id_=1), invoice(account_id=2), Decimal("1"), TODAY)


# --- mistyped references get a Spanish message ---------------------------------------------

GOOD = "030829524900000000240005297126113034"


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Escribe la referencia de pago"),
    (GOOD[:-1], "tiene 36 números y escribiste 35"),
    (GOOD + "0", "tiene 36 números y escribiste 37"),
    ("O" + GOOD[1:], "solo lleva números"),
    (GOOD[:10] + "٣" + GOOD[11:], "solo lleva números"),  # an Arabic-Indic digit
    (GOOD[:-1] + "5", "no es correcta: revisa que cada número esté bien copiado"),
])
def test_mistyped_references_are_refused_in_spanish(typed, message):
    with pytest.raises(InvalidReference, match=message):
        references.parse(typed)
    assert not references.is_valid(typed)


def test_a_well_checked_number_that_is_no_coupon_is_refused():
    payload = "03" + "08295249" + "0000000024" + "00052971" + "261331"  # 31 of month 13
    forged = payload + references._check_pair(payload)
    with pytest.raises(InvalidReference, match="no corresponde a un cupón válido"):
        references.parse(forged)


# --- the check pair catches every single error and neighbour swap ---------------------------

references_st = st.builds(
    lambda zone, number, invoice_id, cents, due: references.build(
        account(str(number), zone_id=zone),
        None if invoice_id == 0 else invoice(id_=invoice_id),
        Decimal(cents) / 100,
        due,
    ),
    st.integers(1, 99),
    st.integers(1, 99_999_999),
    st.integers(0, 9_999_999_999),
    st.integers(1, 99_999_999),
    st.dates(date(2000, 1, 1), date(2099, 12, 31)),
)


@settings(max_examples=300, deadline=None)
@given(references_st)
def test_every_single_digit_error_and_adjacent_transposition_is_caught(reference):
    assert references.is_valid(reference)
    for position, digit in enumerate(reference):
        for other in "0123456789":
            if other != digit:
                typo = reference[:position] + other + reference[position + 1:]
                assert not references.is_valid(typo), (reference, position, other)
    for position in range(len(reference) - 1):
        a, b = reference[position], reference[position + 1]
        if a != b:
            swapped = reference[:position] + b + a + reference[position + 2:]
            assert not references.is_valid(swapped), (reference, position)


# --- which coupon each bill gets -------------------------------------------------------------

def test_a_pending_bill_pays_its_total_by_its_due_date():
    bill = invoice("529.71", date(2026, 11, 30))
    coupon = references.coupon_for(account(), bill, TODAY, valid_days=3,
                                   late_fee=Decimal("52.20"))
    assert coupon is not None
    assert (coupon.amount, coupon.due, coupon.late_fee, coupon.renewed) == (
        Decimal("529.71"), date(2026, 11, 30), Decimal("0.00"), False)
    parsed = references.parse(coupon.reference)
    assert (parsed.invoice_id, parsed.amount, parsed.due) == (24, Decimal("529.71"),
                                                              date(2026, 11, 30))


def test_on_its_due_date_a_bill_is_still_pending():
    bill = invoice("100.00", TODAY)
    coupon = references.coupon_for(account(), bill, TODAY, valid_days=3, late_fee=Decimal(0))
    assert coupon is not None and coupon.due == TODAY and not coupon.renewed


def test_an_overdue_bill_gets_a_current_coupon_with_the_late_fee():
    bill = invoice("426.31", date(2026, 10, 17))
    coupon = references.coupon_for(account(), bill, TODAY, valid_days=3,
                                   late_fee=Decimal("52.20"))
    assert coupon is not None and coupon.renewed
    assert coupon.due == date(2026, 11, 29) > TODAY
    assert coupon.amount == Decimal("478.51") and coupon.late_fee == Decimal("52.20")
    parsed = references.parse(coupon.reference)
    assert (parsed.amount, parsed.due) == (Decimal("478.51"), date(2026, 11, 29))


def test_a_paid_bill_gets_no_coupon():
    assert references.coupon_for(account(), invoice(paid=True), TODAY) is None


def test_the_settings_give_the_days_and_the_fee(app):
    bill = invoice("426.31", date(2026, 10, 17))
    with app.app_context():
        assert app.config["OV_COUPON_VALID_DAYS"] == 3
        assert app.config["OV_COUPON_LATE_FEE"] == Decimal("0.00")
        coupon = references.coupon_for(account(), bill, TODAY)
        assert coupon is not None
        assert (coupon.amount, coupon.due) == (Decimal("426.31"), date(2026, 11, 29))
        app.config.update(OV_COUPON_VALID_DAYS=5, OV_COUPON_LATE_FEE=Decimal("52.20"))
        try:
            coupon = references.coupon_for(account(), bill, TODAY)
        finally:
            app.config.update(OV_COUPON_VALID_DAYS=3, OV_COUPON_LATE_FEE=Decimal("0.00"))
    assert coupon is not None
    assert (coupon.amount, coupon.due) == (Decimal("478.51"), date(2026, 12, 1))


def test_the_balance_adds_every_unpaid_bill_and_expires_with_the_first():
    bills = [
        invoice("529.71", date(2026, 11, 30), id_=24),
        invoice("426.31", date(2026, 10, 17), id_=23),
        invoice("267.99", date(2026, 9, 17), id_=22),
        invoice("275.47", date(2026, 8, 17), id_=21, paid=True),
    ]
    coupon = references.balance_reference(account(), bills, TODAY, valid_days=3,
                                           late_fee=Decimal("52.20"))
    assert coupon is not None
    assert coupon.amount == Decimal("529.71") + Decimal("426.31") + Decimal("267.99") + 2 * Decimal(
        "52.20")
    assert coupon.late_fee == Decimal("104.40")
    assert coupon.due == date(2026, 11, 29) and coupon.renewed
    assert [bill.id for bill in coupon.invoices] == [24, 23, 22]
    parsed = references.parse(coupon.reference)
    assert parsed.is_balance and parsed.amount == coupon.amount


def test_a_balance_of_pending_bills_lasts_until_the_earliest_due_date():
    bills = [invoice("100.00", date(2026, 12, 20), id_=2), invoice("50.00", TODAY, id_=1)]
    coupon = references.balance_reference(account(), bills, TODAY, valid_days=3,
                                          late_fee=Decimal(0))
    assert coupon is not None
    assert (coupon.amount, coupon.due, coupon.renewed) == (Decimal("150.00"), TODAY, False)


def test_nothing_owed_means_no_balance_coupon():
    bills = [invoice(paid=True, id_=1), invoice(paid=True, id_=2)]
    assert references.balance_reference(account(), bills, TODAY) is None
    assert references.balance_reference(account(), [], TODAY) is None


# --- the seed contract, from the database ----------------------------------------------------

def test_round_trip_on_the_seed_contracts_bills(app, billing):
    today = date.today()  # the demo data follows the real date
    with app.app_context():
        seed = db.session.scalars(
            select(Account).join(Zone).where(
                Zone.name == "Nuevo Laredo", Account.number == SEED_ACCOUNT_NUMBER)
        ).one()
        bills = db.session.scalars(
            select(Invoice).where(Invoice.account_id == seed.id)
            .options(selectinload(Invoice.lines)).order_by(Invoice.issue_date.desc())
        ).all()
        assert bills[0].number == SEED_INVOICE_NUMBER
        statuses = {bill.status_on(today) for bill in bills}
        assert statuses == {InvoiceStatus.PAID, InvoiceStatus.PENDING, InvoiceStatus.OVERDUE}
        for bill in bills:
            reference = references.build(seed, bill, bill.total, bill.due_date)
            parsed = references.parse(reference)
            assert (parsed.zone_id, parsed.account_number, parsed.invoice_id) == (
                seed.zone_id, seed.number, bill.id)
            assert (parsed.amount, parsed.due) == (bill.total, bill.due_date)
            assert db.session.get(Invoice, parsed.invoice_id) is bill

            coupon = references.coupon_for(seed, bill, today)
            status = bill.status_on(today)
            if status is InvoiceStatus.PAID:
                assert coupon is None
            elif status is InvoiceStatus.OVERDUE:
                assert coupon is not None and coupon.due == today + timedelta(days=3)
                assert coupon.amount == bill.total  # the default fee is none
            else:
                assert coupon is not None and coupon.due == bill.due_date >= today

        balance = references.balance_reference(seed, bills, today)
        assert balance is not None
        unpaid = [bill for bill in bills if bill.paid_at is None]
        assert balance.amount == sum(bill.total for bill in unpaid)
        assert references.parse(balance.reference).account_number == SEED_ACCOUNT_NUMBER


# --- the settings ---------------------------------------------------------------------------

def test_the_coupon_settings_are_read_from_the_environment_and_checked(tmp_path):
    from ov import create_app
    from ov.config import ConfigError, from_environment

    read = from_environment({"OV_COUPON_VALID_DAYS": "5", "OV_COUPON_LATE_FEE": "52.2"})
    assert read == {"OV_COUPON_VALID_DAYS": 5, "OV_COUPON_LATE_FEE": Decimal("52.20")}
    for fee in ("cincuenta", "52.205", "NaN"):
        with pytest.raises(ConfigError, match="OV_COUPON_LATE_FEE"):
            from_environment({"OV_COUPON_LATE_FEE": fee})
    with pytest.raises(ConfigError, match="OV_COUPON_VALID_DAYS"):
        create_app({"INSTANCE_PATH": str(tmp_path), "OV_COUPON_VALID_DAYS": 0})
    with pytest.raises(ConfigError, match="OV_COUPON_LATE_FEE"):
        create_app({"INSTANCE_PATH": str(tmp_path), "OV_COUPON_LATE_FEE": Decimal("-1")})
