"""Rows a test needs, made directly in the database (inside an app context)."""

from __future__ import annotations

from ov.extensions import db
from ov.models import Account, User, UserAccount, Zone


def make_customer(
    *, username: str = "usuPDFactura1", email: str = "cliente@ejemplo.mx",
    password_hash: str = "x", number: str | None = None,
) -> tuple[User, Account]:
    """A user linked to one account of the Nuevo Laredo zone; flushed, not committed.

    The first customer gets the seed guide's account number; pass ``number`` for others.
    """
    zone = db.session.get(Zone, 3) or Zone(
        id=3, code="NLD", name="Nuevo Laredo", cities="Nuevo Laredo"
    )
    account = Account(
        zone=zone, number=number or "8295249", check_digit=7,
        holder_name="Miguel Granados Ylarrañaga",
        street="Francisco I. Madero", street_number="2381", colonia="Madero",
        city="Nuevo Laredo", state="Tamaulipas", postal_code="88026",
        meter_serial="AC197332157", tariff_code="RES",
    )
    user = User(username=username, password_hash=password_hash, email=email)
    user.links.append(UserAccount(account=account))
    db.session.add_all([zone, account, user])
    db.session.flush()
    return user, account


def invoice_number(account_id: int, index: int) -> str:
    """A bill's printed number, 10 characters as the real ones: ``ZE`` and 8 digits, distinct
    for every account and index within a test (ids grow past 99 on PostgreSQL, whose
    sequences outlive each test, so the id cannot simply be written out)."""
    return f"ZE{(account_id * 10_000 + index) % 10**8:08d}"


def make_invoices(account: Account, count: int, *, start_year: int = 2001,
                  unpaid_last: int = 2) -> list:
    """``count`` monthly invoices for ``account`` (two lines each, one payment each when paid).

    The newest ``unpaid_last`` are unpaid: the newest pending, the others overdue.
    """
    from datetime import UTC, date, datetime, timedelta
    from decimal import Decimal

    from ov.models import Invoice, InvoiceLine, Payment

    db.session.flush()  # the account's id is part of the invoice numbers
    made = []
    today = date.today()
    for index in range(count):
        months_back = count - 1 - index
        year, month = divmod((today.year * 12 + today.month - 1) - months_back, 12)
        issued = date(year, month + 1, 1)
        unpaid = months_back < unpaid_last
        due = today + timedelta(days=10) if months_back == 0 else issued + timedelta(days=20)
        gas, fixed = Decimal("300.00") + index, Decimal("45.50")
        subtotal = gas + fixed
        tax = (subtotal * Decimal("0.16")).quantize(Decimal("0.01"))
        invoice = Invoice(
            account=account, zone_id=account.zone_id, number=invoice_number(account.id, index),
            issue_date=issued, period_start=issued - timedelta(days=30),
            period_end=issued - timedelta(days=1), due_date=due,
            previous_reading=1000 + index * 30, current_reading=1030 + index * 30,
            reading_type="estimated" if index % 4 == 3 else "real", consumption_m3=30,
            subtotal=subtotal, tax=tax, total=subtotal + tax,
            paid_at=None if unpaid else datetime(year, month + 1, 15, 17, tzinfo=UTC),
        )
        invoice.lines = [
            InvoiceLine(position=1, concept="Cargo fijo", quantity=1, unit="mes",
                        unit_price=fixed, amount=fixed),
            InvoiceLine(position=2, concept="Gas natural", quantity=30, unit="m³",
                        unit_price=gas / 30, amount=gas),
        ]
        db.session.add(invoice)
        if not unpaid:
            db.session.add(Payment(account_id=account.id, invoice=invoice,
                                   paid_on=invoice.paid_at.date(),
                                   amount=invoice.total, channel="store", channel_name="OXXO",
                                   reference=f"R{index:010d}", status="applied"))
        made.append(invoice)
    db.session.flush()
    return made


def customer_with_invoices(app, invoices: int = 6, username: str = "usuPDFactura1",
                           number: str | None = None, adjust=None) -> dict:
    """A customer who can sign in with the tests' password, linked to an account with
    ``invoices`` monthly invoices (``adjust`` may change them, e.g. pin their dates);
    committed. Their ids: ``user_id``, ``account_id``, ``invoice_ids`` (oldest first)."""
    from ov.services import passwords
    from tests.support.journeys import PASSWORD

    with app.app_context():
        user, account = make_customer(username=username, number=number,
                                      email=f"{username.lower()}@ejemplo.mx",
                                      password_hash=passwords.hash_password(PASSWORD))
        made = make_invoices(account, invoices)
        if adjust is not None:
            made = adjust(made)
        db.session.commit()
        return {"user_id": user.id, "account_id": account.id,
                "invoice_ids": [invoice.id for invoice in made]}


def hold_seed_contract(username: str = "usuPDFactura1") -> Account:
    """Link the demo data's seed-guide contract (8295249) to a new user with the tests'
    password; committed (inside an app context)."""
    from sqlalchemy import select

    from ov.services import passwords
    from tests.support.journeys import PASSWORD

    account = db.session.scalars(select(Account).where(Account.number == "8295249")).one()
    user = User(username=username, email="cliente@ejemplo.mx",
                password_hash=passwords.hash_password(PASSWORD))
    user.links.append(UserAccount(account=account))
    db.session.add(user)
    db.session.commit()
    return account
