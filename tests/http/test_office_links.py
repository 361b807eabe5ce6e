"""Mi oficina's parts lead to each other: the tabs stay current on the pages under them, and
Mis consumos leads to sending a reading for each contract."""

from __future__ import annotations

import re

import pytest

from ov.extensions import db
from ov.services import passwords
from tests.support.factories import make_customer, make_invoices
from tests.support.journeys import PASSWORD, sign_in

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.fixture
def signed_in(app, client):
    with app.app_context():
        user, account = make_customer(password_hash=passwords.hash_password(PASSWORD))
        invoices = make_invoices(account, 4)
        db.session.commit()
        ids = {"account": account.id, "invoice": invoices[-1].id}
    sign_in(client, "usuPDFactura1")
    return ids


def current_tabs(html: str) -> list[str]:
    tabs = html.split('<nav class="tabs"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'aria-current="page">([^<]+)</a>', tabs)


@pytest.mark.parametrize(("path", "tab"), [
    ("/mi-oficina/consumos", "Mis consumos"),
    ("/mi-oficina/consumos/lectura", "Mis consumos"),
    ("/mi-oficina/facturas", "Mis facturas"),
    ("/mi-oficina/datos/telefono", "Mis datos"),
    ("/mi-oficina/solicitudes", "Mis solicitudes y reclamos"),
])
def test_the_tab_of_a_page_and_of_the_pages_under_it_is_current(client, signed_in, path, tab):
    assert current_tabs(client.get(path).get_data(as_text=True)) == [tab]


def test_an_invoice_page_keeps_mis_facturas_current(client, signed_in):
    page = client.get(f"/mi-oficina/facturas/{signed_in['invoice']}").get_data(as_text=True)
    assert current_tabs(page) == ["Mis facturas"]


def test_the_home_page_marks_no_tab(client, signed_in):
    assert current_tabs(client.get("/mi-oficina").get_data(as_text=True)) == []


def test_mis_consumos_leads_to_sending_the_contracts_reading(client, signed_in):
    page = client.get("/mi-oficina/consumos").get_data(as_text=True)
    link = f'href="/mi-oficina/consumos/lectura?contrato={signed_in["account"]}"'
    assert link in page
    assert ">Envía la lectura de tu medidor</a>" in page


def test_a_notice_in_avisos_leads_to_its_page(app, client, signed_in):
    from ov.models import User
    from ov.services import notices

    with app.test_request_context():
        user = db.session.scalars(db.select(User)).one()
        notices.notify(user, notices.REQUEST_STATUS, "SR-2026-000007:in_progress",
                       title="Tu reclamo SR-2026-000007 está en proceso", body="Texto",
                       action=("Ver mi reclamo", "http://127.0.0.1:5000/mi-oficina/solicitudes/7"))
        db.session.commit()
    page = client.get("/mi-oficina/avisos").get_data(as_text=True)
    assert ('<a href="/mi-oficina/solicitudes/7">Ver mi reclamo<span class="visually-hidden">: '
            "Tu reclamo SR-2026-000007 está en proceso</span></a>") in page


def test_why_the_bill_changed_comes_before_the_long_table(client, signed_in):
    page = client.get("/mi-oficina/consumos").get_data(as_text=True)
    assert 0 < page.index("¿Por qué cambió") < page.index('<table class="usage')
