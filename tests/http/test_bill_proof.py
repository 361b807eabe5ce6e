"""The proof of the bill (zone, account, invoice): only bills a current occupant could hold.

Registration step 1 and recovery by bill use the same proof: the newest invoices of the
contract (two by default) prove it, an older one gets the same generic message as a wrong
number, and the answer costs the same queries either way.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, Invoice
from tests.support.journeys import SEED, Registration, hidden, zone_id
from tests.support.queries import counting_queries

pytestmark = pytest.mark.usefixtures("billing")

GENERIC = "Los datos no coinciden con ninguna factura de esa zona."


def seed_invoices(app) -> list[str]:
    """The seed contract's invoice numbers, newest first."""
    with app.app_context():
        return list(db.session.scalars(
            select(Invoice.number)
            .join(Account, Account.id == Invoice.account_id)
            .where(Account.number == SEED["account"], Account.zone_id == zone_id(app))
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        ))


def text(response) -> str:
    return response.get_data(as_text=True)


def register(app, invoice: str):
    return Registration(app.test_client(), app).step1(factura=invoice)


def recover(app, invoice: str):
    tab = app.test_client()
    page = text(tab.get("/recuperar/con-factura"))
    return tab.post("/recuperar/con-factura", data={
        "csrf_token": hidden(page, "csrf_token"), "captcha_token": hidden(page, "captcha_token"),
        "comentarios": "", "zona": str(zone_id(app)), "cuenta": SEED["account"],
        "factura": invoice})


def test_the_seed_invoice_is_the_contracts_newest(app):
    numbers = seed_invoices(app)
    assert numbers[0] == SEED["invoice"] and len(numbers) >= 24


def test_the_two_newest_invoices_prove_the_contract_in_registration(app):
    newest, second, *_ = seed_invoices(app)
    for number in (newest, second):
        response = register(app, number)
        assert (response.status_code, response.location) == (303, "/registro/paso-2")


def test_an_older_invoice_is_refused_like_a_wrong_one_in_registration(app):
    old = seed_invoices(app)[2]
    refused, wrong = register(app, old), register(app, "ZE00000000")
    assert refused.status_code == wrong.status_code == 422
    assert GENERIC in text(refused)
    assert text(refused).count(GENERIC) == text(wrong).count(GENERIC) == 1


def test_recovery_accepts_only_the_two_newest_invoices_too(app):
    newest, second, old, *older = seed_invoices(app)
    # Nobody registered the seed contract: a good proof says so (404), a bad one does not.
    assert [recover(app, number).status_code for number in (newest, second)] == [404, 404]
    for number in (old, older[-1]):
        response = recover(app, number)
        assert response.status_code == 422 and GENERIC in text(response)


def test_how_many_recent_invoices_count_is_a_setting(app, monkeypatch):
    numbers = seed_invoices(app)
    monkeypatch.setitem(app.config, "OV_PROOF_RECENT_INVOICES", 3)
    assert register(app, numbers[2]).status_code == 303
    assert register(app, numbers[3]).status_code == 422
    monkeypatch.setitem(app.config, "OV_PROOF_RECENT_INVOICES", 1)
    assert register(app, numbers[1]).status_code == 422


def test_a_new_invoice_retires_the_oldest_of_the_two(app):
    newest, second, *_ = seed_invoices(app)
    with app.app_context():
        latest = db.session.scalar(select(Invoice).where(Invoice.number == newest))
        db.session.add(Invoice(
            account_id=latest.account_id, zone_id=latest.zone_id, number="ZE99999999",
            issue_date=latest.issue_date.replace(year=latest.issue_date.year + 1),
            period_start=latest.period_start, period_end=latest.period_end,
            due_date=latest.due_date, previous_reading=latest.current_reading,
            current_reading=latest.current_reading, reading_type="real", consumption_m3=0,
            subtotal=0, tax=0, total=0,
        ))
        db.session.commit()
    assert register(app, "ZE99999999").status_code == 303
    assert register(app, newest).status_code == 303
    assert register(app, second).status_code == 422


def queries_for(app, invoice: str) -> int:
    registration = Registration(app.test_client(), app)
    form = registration.step1_form(factura=invoice)
    with counting_queries(app) as statements:
        registration.client.post("/registro/paso-1", data=form)
    return len([s for s in statements if "FROM invoice" in s or "JOIN invoice" in s])


def test_the_proof_costs_one_invoice_query_whatever_the_answer(app):
    newest, _second, old, *older = seed_invoices(app)
    counts = {number: queries_for(app, number) for number in (newest, old, older[-1],
                                                              "ZE00000000")}
    assert set(counts.values()) == {1}, counts


# --- the invoice number as the bill prints it ------------------------------------------------

@pytest.mark.parametrize("typed", ["ZE 4038 9382", "ZE40389382", "ze 4038 9382"])
def test_step1_accepts_the_seed_number_as_printed_and_without_spaces(app, typed):
    response = register(app, typed)
    assert (response.status_code, response.location) == (303, "/registro/paso-2")


def test_recovery_accepts_the_number_as_printed_too(app):
    assert recover(app, "ZE 4038 9382").status_code == 404  # proved; nobody registered it


def test_the_instructivo_shows_the_number_grouped_as_bills_print_it(client):
    import re

    html = text(client.get("/ayuda/factura"))
    assert "No. DE 4043 2503" in html  # the sample bill's description
    assert "con o sin esos espacios" in html
    image = re.search(r'src="(/static/img/factura-ejemplo\.svg[^"]*)"', html).group(1)
    assert ">No. DE 4043 2503</text>" in text(client.get(image))
    hint = text(client.get("/registro/paso-1"))
    assert "con o sin los espacios" in hint
