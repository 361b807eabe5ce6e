"""The example exports loaded into an empty database, then the portal as a customer finds it:
register with one of the example bills (the real registration, CAPTCHA and all), sign in, and
see that contract's bills in Mis facturas, with the CFDI the export brought."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import Invoice, UserAccount
from ov.services.billing_import import run_import
from tests.support.journeys import SEED, Registration, sign_in

pytestmark = pytest.mark.usefixtures("clean_db")

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def examples(app) -> None:
    """Both example exports, in order, into the empty database."""
    with app.app_context():
        for month in ("billing-2026-10", "billing-2026-11"):
            run_import(EXAMPLES / month)
        db.session.remove()


def ids_by_number(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(Invoice.number, Invoice.id)).all())


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.usefixtures("examples")
def test_a_customer_registers_with_an_example_bill_and_sees_the_contracts_bills(app, client):
    registration = Registration(client, app)
    assert SEED["invoice"] == "ZE40389382"  # the example's October bill of 8295249
    assert registration.complete().location == "/registro/listo"
    with app.app_context():
        [link] = db.session.scalars(select(UserAccount)).all()
        assert link.account.number == SEED["account"]
    assert sign_in(client, "usuPDFactura1").location == "/mi-oficina"

    listing = text(client.get("/mi-oficina/facturas"))
    shown = set(re.findall(r'href="/mi-oficina/facturas/(\d+)"', listing))
    ids = ids_by_number(app)
    own = {f"ZE{number}" for number in range(40389379, 40389384)}
    assert shown == {str(ids[number]) for number in own}
    assert all(number in listing for number in own)
    others = set(ids) - own
    assert others and not any(number in listing for number in others)

    bill = text(client.get(f"/mi-oficina/facturas/{ids['ZE40389382']}"))
    assert "ZE40389382" in bill and "8295249-7" in bill
    link = f'href="/mi-oficina/facturas/{ids["ZE40389382"]}/cfdi.xml"'
    assert link in bill and "Descargar CFDI (XML)" in bill
    cfdi = client.get(f"/mi-oficina/facturas/{ids['ZE40389382']}/cfdi.xml")
    assert cfdi.status_code == 200 and cfdi.mimetype == "application/xml"
    example = EXAMPLES / "billing-2026-10" / "cfdi" / "NLD-ZE40389382.xml"
    assert cfdi.get_data() == example.read_bytes()
    assert 'Version="4.0"' in cfdi.get_data(as_text=True)

    # A bill the export sent without a CFDI offers none.
    plain = text(client.get(f"/mi-oficina/facturas/{ids['ZE40389379']}"))
    assert "ZE40389379" in plain and "Descargar CFDI" not in plain
    assert client.get(f"/mi-oficina/facturas/{ids['ZE40389379']}/cfdi.xml").status_code == 404
    # Another customer's bill from the same export is not theirs.
    assert client.get(f"/mi-oficina/facturas/{ids['ZE40391105']}").status_code == 404


@pytest.mark.usefixtures("examples")
def test_an_old_example_bill_does_not_prove_the_contract(app, client):
    """Registration proves the bill with one of the contract's newest invoices: the July bill
    of the same contract, loaded with the others, is refused."""
    response = Registration(client, app).step1(factura="ZE40389379")
    assert response.status_code == 422
    assert "Los datos no coinciden" in text(response)
