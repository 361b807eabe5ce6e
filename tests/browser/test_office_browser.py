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


def sign_in(tab) -> None:
    tab.goto("/entrar")
    tab.fill("#usuario", "usuPDFactura1")
    tab.fill("#contrasena", PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url("**/mi-oficina")


def office_urls(app, invoice_ids) -> list[str]:
    from tests.support.pages import page_urls

    urls = [url for url in page_urls(app) if url.startswith("/mi-oficina")]
    return urls + [f"/mi-oficina/facturas/{invoice_ids[-1]}",  # pending
                   f"/mi-oficina/facturas/{invoice_ids[-2]}",  # overdue
                   f"/mi-oficina/facturas/{invoice_ids[0]}"]   # paid


def test_every_office_page_passes_axe_and_fits_a_phone(page, axe, app, invoice_ids):
    sign_in(page)
    for url in office_urls(app, invoice_ids):
        page.goto(url)
        page.wait_for_load_state("networkidle")  # the lazy table, where there is one
        assert page.locator("h1").count() == 1, url
        axe(page)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 360, f"{url} is {width}px wide"


def test_office_pages_within_the_weight_budget(browser, live_server, app, invoice_ids):
    from tests.conftest import PHONE

    context = browser.new_context(base_url=live_server, **PHONE)
    tab = context.new_page()
    sign_in(tab)
    for url in office_urls(app, invoice_ids):
        sizes: dict[str, int] = {}

        def count(request, sizes=sizes):
            sizes[request.url] = request.sizes()["responseBodySize"]

        tab.on("requestfinished", count)
        tab.goto(url)
        tab.wait_for_load_state("networkidle")
        tab.remove_listener("requestfinished", count)
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
    reference = page.locator("#referencia").input_value()
    assert re.fullmatch(r"\d{36}", reference)
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Descargar duplicado")).click()
    saved = download.value
    assert re.fullmatch(r"duplicado-factura-\d{4}-\d{2}-\d+\.pdf", saved.suggested_filename)
    assert len(page.context.pages) == 1  # no popup window
