"""Mi oficina in a phone-sized Chromium, signed in: axe and weight on every page, the tabs
with and without JavaScript, the lazy invoice table, and the duplicate's download."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ov.extensions import db
from ov.services import passwords
from tests.support.factories import make_customer, make_invoices
from tests.support.journeys import PASSWORD
from tests.support.reflow import WIDTHS, check_reflow
from tests.support.settle import finished_requests, settle, without_cache
from tests.support.weight import FIRST_VISIT_BUDGET, PAGE_BUDGET

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_db")]

TABS = ["Mis datos", "Mis contratos", "Mis facturas", "Mis consumos",
        "Mis solicitudes y reclamos", "Mis pagos"]


@pytest.fixture
def invoice_ids(app):
    with app.app_context():
        _, account = make_customer(password_hash=passwords.hash_password(PASSWORD))
        made = make_invoices(account, 30)
        db.session.commit()
        return [invoice.id for invoice in made]


@pytest.fixture
def long_data_ids(app):
    """A customer whose data is as long as the billing system allows: a long name and
    address, a long charge concept, six-figure amounts, a long transfer reference."""
    from datetime import date
    from decimal import Decimal

    from ov.models import InvoiceLine, Payment

    with app.app_context():
        user, account = make_customer(username=LONG_USERNAME,
                                      email="maria.de.los.angeles.hernandez.villasenor"
                                            "@correo-electronico-de-ejemplo.com.mx",
                                      password_hash=passwords.hash_password(PASSWORD))
        account.holder_name = ("María de los Ángeles Guadalupe Hernández-Villaseñor "
                               "de la Garza y Cortázar")
        account.street = "Prolongación Avenida General Ignacio Zaragoza Poniente"
        account.street_number = "2381-B Interior 14"
        account.colonia = "Fraccionamiento Residencial Campestre de las Misiones"
        made = make_invoices(account, 30)
        for invoice in made[-3:]:  # a paid one, the overdue one and the pending one
            invoice.lines.append(InvoiceLine(
                position=3, concept="Cargo por reconexión del servicio y pago extemporáneo",
                quantity=Decimal("1234.567"), unit="m³", unit_price=Decimal("98.7654"),
                amount=Decimal("121932.85")))
            invoice.subtotal += Decimal("121932.85")
            invoice.tax = (invoice.subtotal * Decimal("0.16")).quantize(Decimal("0.01"))
            invoice.total = invoice.subtotal + invoice.tax
        made[-3].paid_at = None
        db.session.add(Payment(account_id=account.id, invoice=made[-3], paid_on=date.today(),
                               amount=made[-3].total, channel="transfer", channel_name="SPEI",
                               reference="MBAN20261201123456789012", status="in_process"))
        db.session.commit()
        return [invoice.id for invoice in made]


LONG_USERNAME = "MariaAngelesHernandez2026"


def sign_in(tab, username: str = "usuPDFactura1") -> None:
    tab.goto("/entrar")
    tab.fill("#usuario", username)
    tab.fill("#contrasena", PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url("**/mi-oficina")


def office_urls(app, invoice_ids) -> list[str]:
    from tests.support.pages import page_urls

    urls = [url for url in page_urls(app) if url.startswith("/mi-oficina")]
    return urls + [f"/mi-oficina/facturas/{invoice_ids[-1]}",  # pending
                   f"/mi-oficina/facturas/{invoice_ids[-2]}",  # overdue
                   f"/mi-oficina/facturas/{invoice_ids[0]}"]   # paid


@pytest.mark.parametrize("width", WIDTHS)
def test_every_office_page_passes_axe_and_fits_a_phone(page, axe, app, long_data_ids, width):
    """At 320 px too (WCAG 1.4.10), with the longest data: no sideways scroll, and every
    amount and state of every table on screen."""
    page.set_viewport_size({"width": width, "height": 740})
    sign_in(page, LONG_USERNAME)
    for url in office_urls(app, long_data_ids):
        page.goto(url)
        settle(page)  # the lazy table, where there is one
        assert page.locator("h1").count() == 1, url
        axe(page)
        check_reflow(page, url)


def test_office_pages_within_the_weight_budget(browser, live_server, app, invoice_ids):
    from tests.conftest import PHONE

    context = browser.new_context(base_url=live_server, **PHONE)
    tab = context.new_page()
    sign_in(tab)
    without_cache(context, tab)  # each page as if its files had never been fetched
    for url in office_urls(app, invoice_ids):
        sizes = finished_requests(tab, url)
        assert all(size > 0 for size in sizes.values()), (url, sizes)
        document = sizes[tab.url] if tab.url in sizes else max(sizes.values())
        assert document <= PAGE_BUDGET, (url, document)
        assert sum(sizes.values()) <= FIRST_VISIT_BUDGET, (url, sizes)
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_tabs_work_with_and_without_javascript(request, javascript, invoice_ids):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    sign_in(tab)
    tabs = tab.get_by_role("navigation", name="Mi oficina")
    for label in TABS:
        tabs.get_by_role("link", name=label, exact=True).click()
        expect(tabs.locator('[aria-current="page"]')).to_have_text(label)
        assert tab.locator("h1").inner_text() in (label, "Mis solicitudes y reclamos")
        assert tab.title().startswith(tab.locator("h1").inner_text())
    assert tab.url.endswith("/mi-oficina/pagos")
    if javascript:  # the tabs swapped in place and pushed their URLs: back goes one tab back
        tab.go_back()
        tab.wait_for_url("**/mi-oficina/solicitudes")
        expect(tab.locator("h1")).to_have_text("Mis solicitudes y reclamos")


def test_the_invoice_table_lazy_loads_into_its_tab_and_pages(page, invoice_ids):
    sign_in(page)
    loads: list[str] = []
    page.on("request", lambda r: loads.append(r.headers.get("hx-target", "")))
    page.get_by_role("navigation", name="Mi oficina").get_by_role(
        "link", name="Mis facturas").click()
    page.wait_for_url("**/mi-oficina/facturas")
    table = page.locator("#tabla-facturas table")
    table.wait_for()
    assert "div#tabla-facturas" in loads  # the table came from its own request
    assert table.locator("tbody tr").count() == 12
    page.get_by_role("link", name=re.compile("^Siguiente")).click()
    expect(page.locator(".table-count")).to_contain_text("página 2 de 3")
    assert page.locator("#tabla-facturas tbody tr").count() == 12


def test_the_duplicate_downloads_in_the_same_tab(page, invoice_ids):
    sign_in(page)
    page.goto(f"/mi-oficina/facturas/{invoice_ids[-1]}")
    reference = page.locator("#referencia").inner_text()
    assert re.fullmatch(r"\d{4}( \d{4}){8}", reference)
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Descargar duplicado")).click()
    saved = download.value
    number = page.locator("h1").inner_text().removeprefix("Factura ")
    assert re.fullmatch(rf"factura-{number}-\d{{4}}-\d{{2}}-\d{{2}}\.pdf", saved.suggested_filename)
    assert len(page.context.pages) == 1  # no popup window


def test_a_stacked_table_is_still_a_table_for_screen_readers(page, long_data_ids):
    """At 320 px the charges show as blocks with their column names drawn beside each
    value; the accessibility tree keeps the table, its headers and cells named by the value
    alone (the drawn name is not read twice)."""
    page.set_viewport_size({"width": 320, "height": 740})
    sign_in(page, LONG_USERNAME)
    page.goto(f"/mi-oficina/facturas/{long_data_ids[-1]}")
    table = page.get_by_role("table", name=re.compile("^Cargos de la factura"))
    tree = table.aria_snapshot()
    for header in ("Concepto", "Cantidad", "Precio unitario", "Importe"):
        assert f'columnheader "{header}"' in tree, tree
    assert 'rowheader "Cargo fijo"' in tree and 'cell "$45.50"' in tree, tree
    assert "Importe $" not in tree, tree
    amount = table.get_by_role("cell", name="$45.50", exact=True)
    drawn = amount.evaluate("cell => getComputedStyle(cell, '::before').content")
    assert "Importe" in drawn
    assert amount.evaluate("cell => getComputedStyle(cell).display") == "flex"


def test_the_reference_copies_with_one_click(page, live_server, invoice_ids):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    sign_in(page)
    page.goto("/mi-oficina/pagos")
    shown = page.locator(".reference").first.inner_text()
    page.get_by_role("button", name="Copiar referencia").click()
    expect(page.locator("#avisos")).to_have_text("Referencia copiada")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == shown.replace(" ", "") and re.fullmatch(r"\d{36}", copied)
    page.get_by_role("button", name="Copiar CLABE").click()
    expect(page.locator("#avisos")).to_have_text("CLABE copiada")
    assert re.fullmatch(r"\d{18}", page.evaluate("navigator.clipboard.readText()"))


def test_without_javascript_the_reference_is_text_and_no_button_shows(page_nojs, invoice_ids):
    sign_in(page_nojs)
    page_nojs.goto("/mi-oficina/pagos")
    assert re.fullmatch(r"\d{4}( \d{4}){8}", page_nojs.locator(".reference").first.inner_text())
    assert page_nojs.get_by_role("button", name=re.compile("^Copiar")).count() == 0
