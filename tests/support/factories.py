"""Rows a test needs, made directly in the database (inside an app context)."""

from __future__ import annotations

from ov.extensions import db
from ov.models import Account, User, UserAccount, Zone


def make_customer(
    *, username: str = "usuPDFactura1", email: str = "cliente@ejemplo.mx",
    password_hash: str = "x",
) -> tuple[User, Account]:
    """A user linked to one account of its own zone; flushed, not committed."""
    zone = Zone(id=3, code="NLD", name="Nuevo Laredo", cities="Nuevo Laredo")
    account = Account(
        zone=zone, number="8295249", check_digit=7, holder_name="Miguel Granados Ylarrañaga",
        street="Francisco I. Madero", street_number="2381", colonia="Madero",
        city="Nuevo Laredo", state="Tamaulipas", postal_code="88026",
        meter_serial="AC197332157", tariff_code="RES",
    )
    user = User(username=username, password_hash=password_hash, email=email)
    user.links.append(UserAccount(account=account))
    db.session.add_all([zone, account, user])
    db.session.flush()
    return user, account
