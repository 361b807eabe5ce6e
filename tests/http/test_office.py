"""Mi oficina through HTTP: the pages, the access rule, the PDF and the query counts."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from ov.blueprints.office.common import today as local_today  # the day in Mexico
from ov.extensions import db
from ov.models import AuditEvent, Invoice, Notice, UserAccount
from ov.services import references
from tests.support.factories import (
    customer_with_invoices,
    hold_seed_contract,
    make_invoices,
)
from tests.support.journeys import sign_in
from tests.support.queries import counting_queries

pytestmark = pytest.mark.usefixtures("clean_db")

PAGES = ["/mi-oficina", "/mi-oficina/datos", "/mi-oficina/contratos", "/mi-oficina/facturas",
         "/mi-oficina/consumos", "/mi-oficina/solicitudes", "/mi-oficina/pagos",
         "/mi-oficina/avisos"]


def text(response) -> str:
    return response.get_data(as_text=True)


def customer(app, invoices: int = 6, username: str = "usuPDFactura1",
             number: str | None = None) -> dict:
    return customer_with_invoices(app, invoices, username, number)


@pytest.fixture
def seed_customer(app):
    return customer(app)


@pytest.fixture
def signed_in(app, client, seed_customer):
    response = sign_in(client, "usuPDFactura1")
    assert response.status_code == 303, text(response)[:400]
    return client


def second_contract(seed_customer: dict, number: str):
    """Link another account of the same holder to the customer (inside an app context)."""
    from ov.models import Account

    first = db.session.get(Account, seed_customer["account_id"])
    second = Account(zone_id=first.zone_id, number=number, check_digit=1,
                     holder_name=first.holder_name, street="Hidalgo", street_number="5",
                     colonia="Centro", city="Nuevo Laredo", state="Tamaulipas",
                     postal_code="88000", meter_serial=f"IT{number}", tariff_code="RES")
    db.session.add(second)
    db.session.flush()
    db.session.add(UserAccount(user_id=seed_customer["user_id"], account_id=second.id))
    return first, second


# --- access -----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", PAGES)
def test_office_pages_need_a_signed_in_customer(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.location.startswith("/entrar")


@pytest.mark.parametrize("url", PAGES)
def test_office_pages_are_private_and_never_stored(signed_in, url):
    response = signed_in.get(url)
    assert response.status_code == 200, url
    assert response.headers["Cache-Control"] == "no-store"
    html = text(response)
    assert 'aria-label="Mi oficina"' in html and "Avisos (" in html
    for label in ("Mis datos", "Mis contratos", "Mis facturas", "Mis consumos",
                  "Mis solicitudes y reclamos", "Mis pagos"):
        assert label in html


def test_another_customers_records_answer_404_and_are_audited(app, signed_in, seed_customer):
    other = customer(app, invoices=3, username="otraPersona2", number="5550001")
    for invoice_id in other["invoice_ids"]:
        for suffix in ("", "/duplicado.pdf", "/cfdi.xml"):
            response = signed_in.get(f"/mi-oficina/facturas/{invoice_id}{suffix}")
            assert response.status_code == 404, (invoice_id, suffix)
            assert "Página no encontrada" in text(response)
    assert signed_in.get("/mi-oficina/facturas/999999").status_code == 404
    with app.app_context():
        denied = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "access_denied")
        ).all()
    assert len(denied) == 3 * len(other["invoice_ids"]) + 1
    assert all(event.user_id == seed_customer["user_id"] for event in denied)
    for invoice_id in seed_customer["invoice_ids"]:
        assert signed_in.get(f"/mi-oficina/facturas/{invoice_id}").status_code == 200


# --- home ---------------------------------------------------------------------------------------

def test_home_shows_last_invoices_debt_and_how_to_pay(app, signed_in, seed_customer):
    html = text(signed_in.get("/mi-oficina"))
    with app.app_context():
        invoices = db.session.scalars(
            select(Invoice).where(Invoice.account_id == seed_customer["account_id"])
            .order_by(Invoice.issue_date.desc())
        ).all()
        unpaid = sum(i.total for i in invoices if i.paid_at is None)
    rows = re.findall(r"<tr><td><a href=\"/mi-oficina/facturas/(\d+)\"", html)
    assert [int(r) for r in rows] == [i.id for i in invoices[:3]]
    from ov.formatting import day, money

    assert day(invoices[0].issue_date) in html and money(invoices[0].total) in html
    assert f'<p class="debt__amount">{money(unpaid)}</p>' in html
    for bank in ("Banamex", "BBVA Bancomer", "Banorte", "HSBC"):
        assert bank in html
    assert "impresora láser" in html
    assert "Ver mis facturas anteriores" in html and "Ver mis pagos anteriores" in html
    assert "No existen pagos emitidos" not in html  # this customer has paid before
    assert "¿Dónde pagar?" in html and "Conoce tu factura" in html


def test_home_says_when_there_are_no_payments(app, client):
    customer(app, invoices=1)
    sign_in(client, "usuPDFactura1")
    html = text(client.get("/mi-oficina"))
    assert "No existen pagos emitidos para el punto de suministro." in html


def test_several_contracts_have_a_switcher_and_a_total(app, signed_in, seed_customer):
    with app.app_context():
        first, second = second_contract(seed_customer, "1234567")
        make_invoices(second, 2, unpaid_last=1)
        db.session.commit()
        from ov.services.office import Scope

        user_id = seed_customer["user_id"]
        both = sum(i.total for i in Scope.of(user_id).unpaid_invoices())
        only_second = sum(i.total for i in Scope.of(user_id, second.id).unpaid_invoices())
        second_id = second.id
    from ov.formatting import money

    html = text(signed_in.get("/mi-oficina"))
    assert 'name="contrato"' in html and "Todos mis contratos (2)" in html
    assert money(both) in html
    chosen = text(signed_in.get(f"/mi-oficina?contrato={second_id}"))
    assert f'<p class="debt__amount">{money(only_second)}</p>' in chosen
    # Another customer's account id in the switcher shows the customer's own contracts.
    assert signed_in.get("/mi-oficina?contrato=999999").status_code == 200


# --- invoices -------------------------------------------------------------------------------------

def test_invoices_table_is_paginated_newest_first_and_filtered(app, client):
    made = customer(app, invoices=30)
    sign_in(client, "usuPDFactura1")
    html = text(client.get("/mi-oficina/facturas"))
    ids = [int(i) for i in re.findall(r'href="/mi-oficina/facturas/(\d+)"', html)]
    assert ids == list(reversed(made["invoice_ids"]))[:12]
    assert "página 1 de 3" in html and "pagina=2" in html
    last = text(client.get("/mi-oficina/facturas?pagina=3"))
    assert len(re.findall(r'href="/mi-oficina/facturas/\d+"', last)) == 6
    year = date.today().year
    filtered = text(client.get(f"/mi-oficina/facturas?anio={year}&estado=overdue"))
    assert filtered.count('class="status status--overdue"') == 1
    assert 'status--paid' not in filtered
    for column in ("Fecha", "Número", "Periodo", "m³", "Importe", "Vence", "Estado", "Lectura"):
        assert re.search(rf'<th scope="col"[^>]*>{column}</th>', html), column
    assert "estimada" in html and "real" in html


def test_the_invoices_tab_lazy_loads_its_table(signed_in, htmx_headers):
    tab = text(signed_in.get("/mi-oficina/facturas", headers=htmx_headers))
    assert 'data-hx-trigger="load"' in tab and "<table" not in tab
    assert '<a href="/mi-oficina/facturas">Ver la tabla de facturas</a>' in tab
    table = signed_in.get("/mi-oficina/facturas",
                          headers={**htmx_headers, "HX-Target": "div#tabla-facturas"})
    assert text(table).lstrip().startswith('<div id="tabla-facturas"')
    assert "<table" in text(table) and "<title>" not in text(table)


def test_an_invoice_as_accessible_html(app, signed_in, seed_customer):
    newest = seed_customer["invoice_ids"][-1]
    html = text(signed_in.get(f"/mi-oficina/facturas/{newest}"))
    with app.app_context():
        invoice = db.session.get(Invoice, newest)
        number, holder = invoice.number, invoice.account.holder_name
    for part in (number, holder, "Francisco I. Madero", "AC197332157", "Lectura anterior",
                 "Lectura actual", "Consumo", "Cargo fijo", "Gas natural", "Subtotal",
                 "IVA 16 %", "Total", "Fecha límite de pago", "pendiente"):
        assert part in html, part
    assert '<caption id="factura-cargos-tabla">' in html and '<th scope="row">' in html
    reference = re.search(r'id="referencia"[^>]*data-copiar="(\d+)"', html).group(1)
    assert references.is_valid(reference)
    assert "¿No estás de acuerdo con esta factura? Abre una aclaración" in html
    assert "duplicado.pdf" in html


def test_an_overdue_invoice_gets_a_current_coupon(app, signed_in, seed_customer):
    overdue = seed_customer["invoice_ids"][-2]
    html = text(signed_in.get(f"/mi-oficina/facturas/{overdue}"))
    assert "vencida" in html and "cupón vigente" in html
    due = re.search(r"antes del <strong>(\d\d)/(\d\d)/(\d{4})</strong>", html).groups()
    assert date(int(due[2]), int(due[1]), int(due[0])) >= date.today()


def test_a_paid_invoice_has_no_coupon(signed_in, seed_customer):
    html = text(signed_in.get(f"/mi-oficina/facturas/{seed_customer['invoice_ids'][0]}"))
    assert "pagada" in html and 'id="referencia"' not in html


def test_the_duplicate_pdf(app, signed_in, seed_customer):
    newest = seed_customer["invoice_ids"][-1]
    response = signed_in.get(f"/mi-oficina/facturas/{newest}/duplicado.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert re.search(r'filename="[\w.-]+\.pdf"', disposition)
    body = response.get_data()
    assert body.startswith(b"%PDF") and len(body) <= 50 * 1024
    from io import BytesIO

    from pypdf import PdfReader

    reader = PdfReader(BytesIO(body))
    assert len(reader.pages) == 1
    content = reader.pages[0].extract_text()
    with app.app_context():
        number = db.session.get(Invoice, newest).number
    assert "DUPLICADO" in content and number in content


def test_cfdi_download_only_when_the_billing_data_has_it(app, signed_in, seed_customer):
    first = seed_customer["invoice_ids"][0]
    assert signed_in.get(f"/mi-oficina/facturas/{first}/cfdi.xml").status_code == 404
    assert "cfdi.xml" not in text(signed_in.get(f"/mi-oficina/facturas/{first}"))
    with app.app_context():
        db.session.get(Invoice, first).cfdi_xml = '<?xml version="1.0"?><cfdi:Comprobante/>'
        db.session.commit()
    response = signed_in.get(f"/mi-oficina/facturas/{first}/cfdi.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert b"cfdi:Comprobante" in response.get_data()
    assert response.headers["Content-Disposition"].startswith("attachment;")


# --- the other tabs ------------------------------------------------------------------------------

def test_the_other_tabs_show_real_content(app, signed_in, seed_customer):
    with app.app_context():
        db.session.add(Notice(user_id=seed_customer["user_id"], title="Corte programado",
                              body="El martes de 9:00 a 13:00."))
        db.session.commit()
    assert "usuPDFactura1" in text(signed_in.get("/mi-oficina/datos"))
    contracts = text(signed_in.get("/mi-oficina/contratos"))
    assert "8295249-7" in contracts and "AC197332157" in contracts and "Activo" in contracts
    usage = text(signed_in.get("/mi-oficina/consumos"))
    assert usage.count('<tr><th scope="row"><a href="/mi-oficina/facturas/') == len(
        seed_customer["invoice_ids"])  # one row per period (tests/http/test_consumption.py)
    assert "Atención al cliente" in text(signed_in.get("/mi-oficina/solicitudes"))
    pay = text(signed_in.get("/mi-oficina/pagos"))
    assert "48 a 72 horas" in pay and "OXXO" in pay and "aplicado" in pay
    reference = re.search(r'id="referencia-saldo-\d+"[^>]*data-copiar="(\d+)"', pay).group(1)
    assert references.is_valid(reference)
    # The programmed cut, and the reminder to confirm the email left at sign-in.
    assert "Avisos (2)" in text(signed_in.get("/mi-oficina"))
    assert "Corte programado" in text(signed_in.get("/mi-oficina/avisos"))


# --- constant queries ---------------------------------------------------------------------------

QUERY_PAGES = ["/mi-oficina", "/mi-oficina/facturas", "/mi-oficina/pagos",
               "/mi-oficina/consumos", "/mi-oficina/contratos", "/mi-oficina/datos",
               "/mi-oficina/solicitudes", "/mi-oficina/avisos"]
TABLE = {"HX-Request": "true", "HX-Request-Type": "partial", "HX-Target": "div#tabla-facturas"}


def queries_per_page(app, client, invoices: int) -> dict[str, int]:
    made = customer(app, invoices=invoices)
    sign_in(client, "usuPDFactura1")
    counts = {}
    newest = made["invoice_ids"][-1]
    requests = [(url, {}) for url in QUERY_PAGES] + [
        (f"/mi-oficina/facturas/{newest}", {}),
        (f"/mi-oficina/facturas/{newest}/duplicado.pdf", {}),
        ("/mi-oficina/facturas?pagina=2", TABLE),
    ]
    for url, headers in requests:
        client.get(url, headers=headers)  # warm: the first request may load things once
        with counting_queries(app) as statements:
            assert client.get(url, headers=headers).status_code == 200
        label = url.replace(str(newest), "<id>") + (" (table)" if headers else "")
        counts[label] = len(statements)
    return counts


def test_each_page_runs_the_same_number_of_queries_with_3_or_300_invoices(app):
    few = queries_per_page(app, app.test_client(), 3)
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
    many = queries_per_page(app, app.test_client(), 300)
    assert few == many, (few, many)
    assert max(many.values()) <= 12, many


def test_filters_answer_200_and_keep_their_choice(signed_in):
    for state in ("paid", "pending", "overdue", "nada"):
        response = signed_in.get(f"/mi-oficina/facturas?estado={state}")
        assert response.status_code == 200, state
    html = text(signed_in.get("/mi-oficina/facturas?estado=overdue"))
    assert '<option value="overdue" selected>' in html


@pytest.mark.parametrize(
    "url",
    [
        "/mi-oficina/facturas?anio=99999999999999999999",
        "/mi-oficina/facturas?pagina=-1&anio=abc&contrato=x",
        "/mi-oficina/facturas?pagina=99999999999999999999999",
        "/mi-oficina/pagos?pagina=0",
        "/mi-oficina?contrato=99999999999999999999",
        "/mi-oficina/facturas?pagina=" + "9" * 5000,  # beyond int()'s 4,300-digit limit
        "/mi-oficina/facturas?anio=" + "9" * 5000,
        "/mi-oficina/pagos?pagina=" + "9" * 5000,
    ],
    ids=lambda url: url[:60],
)
def test_odd_query_strings_never_break_a_page(signed_in, url):
    assert signed_in.get(url).status_code == 200


@pytest.mark.parametrize("suffix", ["", "/duplicado.pdf", "/cfdi.xml"])
def test_huge_invoice_ids_are_simply_not_found(signed_in, suffix):
    response = signed_in.get(f"/mi-oficina/facturas/99999999999999999999999{suffix}")
    assert response.status_code == 404


def test_the_chosen_contract_goes_along_to_the_other_tabs(app, signed_in, seed_customer):
    with app.app_context():
        _, second = second_contract(seed_customer, "7654321")
        db.session.commit()
        second_id = second.id
    html = text(signed_in.get(f"/mi-oficina?contrato={second_id}"))
    assert f'href="/mi-oficina/facturas?contrato={second_id}"' in html
    assert f'href="/mi-oficina/pagos?contrato={second_id}"' in html
    assert 'href="/mi-oficina/facturas"' not in html.split('class="tabs"')[1].split("</nav>")[0]


# --- the seed guide's contract, as billed -----------------------------------------------------

def cells(html: str, caption: str) -> list[list[str]]:
    """The text of each body row's cells of the table with this caption."""
    table = re.search(rf"<caption[^>]*>{re.escape(caption)}.*?</table>", html, re.S).group(0)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    return [
        [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
         for cell in re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", body, re.S)
    ]


def pesos(shown: str):
    from decimal import Decimal

    return Decimal(shown.replace("$", "").replace(",", ""))


@pytest.fixture
def seed_holder(app, client, billing):
    """The seed guide's contract (demo data) linked to a signed-in user; its invoice ids."""
    with app.app_context():
        account = hold_seed_contract()
        ids = db.session.scalars(select(Invoice.id).where(Invoice.account_id == account.id)
                                 .order_by(Invoice.issue_date)).all()
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return ids


def test_quantity_times_the_shown_price_gives_the_shown_amount(client, seed_holder):
    """Every charge of every seed invoice: the price is shown as billed, not rounded."""
    from decimal import ROUND_HALF_UP, Decimal

    checked = 0
    for invoice_id in seed_holder:
        html = text(client.get(f"/mi-oficina/facturas/{invoice_id}"))
        number = re.search(r"<h1>Factura ([^<]+)</h1>", html).group(1)
        for concept, quantity, price, amount in cells(html, f"Cargos de la factura {number}"):
            shown = Decimal(quantity.split()[0].replace(",", ""))
            product = (shown * pesos(price)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert product == pesos(amount), (invoice_id, concept, quantity, price, amount)
            checked += 1
    assert len(seed_holder) >= 24 and checked >= 3 * len(seed_holder)


def test_a_whole_quantity_is_shown_as_a_plain_number(app, signed_in, seed_customer):
    newest = seed_customer["invoice_ids"][-1]
    html = text(signed_in.get(f"/mi-oficina/facturas/{newest}"))
    with app.app_context():
        number = db.session.get(Invoice, newest).number
    quantities = [row[1] for row in cells(html, f"Cargos de la factura {number}")]
    assert quantities == ["1 mes", "30 m³"]


def test_the_duplicate_is_named_by_invoice_number_and_issue_date(app, signed_in, seed_customer):
    newest = seed_customer["invoice_ids"][-1]
    with app.app_context():
        invoice = db.session.get(Invoice, newest)
        expected = f"factura-{invoice.number}-{invoice.issue_date:%Y-%m-%d}"
    pdf = signed_in.get(f"/mi-oficina/facturas/{newest}/duplicado.pdf")
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="{expected}.pdf"'


def test_a_printed_number_with_signs_makes_a_safe_file_name(app, signed_in, seed_customer):
    newest = seed_customer["invoice_ids"][-1]
    with app.app_context():
        invoice = db.session.get(Invoice, newest)
        invoice.number = 'ZE 40.38/"'  # ten characters, as printed
        db.session.commit()
        issued = f"{invoice.issue_date:%Y-%m-%d}"
    pdf = signed_in.get(f"/mi-oficina/facturas/{newest}/duplicado.pdf")
    assert pdf.headers["Content-Disposition"] == (
        f'attachment; filename="factura-ZE-40-38-{issued}.pdf"'
    )


# --- the payment reference as text ------------------------------------------------------------

def grouped_references(html: str) -> list[str]:
    """References printed as text (outside any tag) in groups of four digits."""
    outside_tags = re.sub(r"<[^>]*>", "\n", html)
    return re.findall(r"(?<!\d)(?<!\d )\d{4}(?: \d{4}){8}(?! ?\d)", outside_tags)


def test_the_balance_reference_is_text_grouped_for_dictation(app, signed_in, seed_customer):
    from ov.models import Account

    html = text(signed_in.get("/mi-oficina/pagos"))
    with app.app_context():
        account = db.session.get(Account, seed_customer["account_id"])
        from ov.services.office import Scope

        owed = Scope.of(seed_customer["user_id"], account.id).unpaid_invoices()
        coupon = references.balance_reference(account, owed, local_today())
    assert grouped_references(html) == [coupon.for_people]
    assert "readonly" not in html  # not hidden inside a form field any more
    assert html.count(coupon.reference) == 1  # the whole number, once, for the copy button


def test_the_invoice_reference_is_the_same_text(app, signed_in, seed_customer):
    newest = seed_customer["invoice_ids"][-1]
    html = text(signed_in.get(f"/mi-oficina/facturas/{newest}"))
    with app.app_context():
        invoice = db.session.get(Invoice, newest)
        coupon = references.coupon_for(invoice.account, invoice, local_today())
    assert grouped_references(html) == [coupon.for_people]
    assert "readonly" not in html


# --- how to pay: the same channels everywhere, SPEI with its data ------------------------------

CHANNEL_PAGES = ["/mi-oficina", "/mi-oficina/pagos", "/donde-pagar"]


@pytest.mark.parametrize("url", CHANNEL_PAGES)
def test_spei_shows_the_clabe_and_beneficiary_from_the_settings(app, signed_in, monkeypatch,
                                                                url):
    monkeypatch.setitem(app.config, "OV_SPEI_CLABE", "002180000000000009")
    monkeypatch.setitem(app.config, "OV_SPEI_BENEFICIARY", "Gasera Real, S.A. de C.V.")
    monkeypatch.setitem(app.config, "OV_SPEI_BANK", "Banco Real")
    html = text(signed_in.get(url))
    spei = html.split('id="canal-transferencia"')[1].split("</section>")[0]
    assert "002 180 00000000000 9" in spei  # grouped as the CLABE is read: bank, place, account
    assert "Gasera Real, S.A. de C.V." in spei and "Banco Real" in spei


def test_the_beneficiary_is_the_utility_unless_set(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "OV_SPEI_BENEFICIARY", "")
    monkeypatch.setitem(app.config, "OV_UTILITY_LEGAL_NAME", "Gasera del Norte, S.A. de C.V.")
    spei = text(client.get("/donde-pagar")).split('id="canal-transferencia"')[1]
    assert "Gasera del Norte, S.A. de C.V." in spei.split("</section>")[0]


def test_without_a_clabe_no_transfer_is_offered(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "OV_SPEI_CLABE", "")
    html = text(client.get("/donde-pagar"))
    assert "SPEI" not in html and "transferencia" not in html.lower()


def test_every_bank_and_store_in_the_payments_data_is_offered(app, client, billing):
    from ov.models import Payment

    with app.app_context():
        names = set(db.session.scalars(
            select(Payment.channel_name).where(Payment.channel.in_(("bank", "store")))
        ))
    html = text(client.get("/donde-pagar"))
    channels = html.split('class="channels"')[1].split('id="canal-transferencia"')[0]
    offered = set(re.findall(r"<li>([^<]+)</li>", channels))
    assert {"Santander", "OXXO"} <= names <= offered
