"""Mis contratos in a phone-sized Chromium (360 px), with and without JavaScript: add a
second contract with its bill, name it, find it in the switcher, remove it, and see why the
last one stays; axe on every page and error state (with JavaScript: axe needs it)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, Invoice, UserAccount
from tests.browser.test_office_browser import sign_in
from tests.support.journeys import SEED, Registration
from tests.support.reflow import check_reflow

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("billing")]


@pytest.fixture
def second_bill(app) -> dict:
    """The seed's customer registered; the newest bill of another demo contract."""
    assert Registration(app.test_client(), app).complete().status_code == 303
    with app.app_context():
        account = db.session.scalars(
            select(Account).where(Account.number != SEED["account"]).order_by(Account.id)
        ).first()
        invoice = db.session.scalars(
            select(Invoice.number).where(Invoice.account_id == account.id)
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).limit(1)
        ).one()
        bill = {"id": account.id, "zone": account.zone.name, "number": account.number,
                "printed": account.printed_number, "invoice": invoice}
        db.session.remove()
        return bill


def linked(app) -> list[int]:
    with app.app_context():
        found = list(db.session.scalars(select(UserAccount.account_id)
                                        .order_by(UserAccount.account_id)))
        db.session.remove()
        return found


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_add_name_switch_and_remove_a_contract(request, app, javascript, second_bill):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    axe = request.getfixturevalue("axe") if javascript else (lambda _page: None)
    bill = second_bill
    sign_in(tab)
    tab.get_by_role("navigation", name="Mi oficina").get_by_role(
        "link", name="Mis contratos").click()
    expect(tab.locator("h1")).to_have_text("Mis contratos")
    tab.get_by_role("link", name="Añadir contrato").click()
    expect(tab.locator("h1")).to_have_text("Añadir contrato")
    axe(tab)
    check_reflow(tab, tab.url)

    # A wrong invoice number: the one generic error, the answers kept.
    tab.get_by_label("Zona Geográfica").select_option(label=bill["zone"])
    tab.get_by_label("Número de cuenta").fill(bill["number"])
    invoice = tab.get_by_role("textbox", name=re.compile("^Número de factura"))
    invoice.fill("ZE00000000")
    tab.get_by_role("button", name="Añadir contrato").click()
    summary = tab.locator(".error-summary")
    expect(summary).to_contain_text("Los datos no coinciden")
    assert tab.title().startswith("Error: Añadir contrato")
    expect(tab.get_by_label("Número de cuenta")).to_have_value(bill["number"])
    if javascript:
        expect(summary).to_be_focused()
    axe(tab)

    tab.get_by_role("textbox", name=re.compile("^Número de factura")).fill(bill["invoice"])
    tab.get_by_role("button", name="Añadir contrato").click()
    expect(tab.locator("h1")).to_have_text("Mis contratos")
    expect(tab.locator("main")).to_contain_text(f"Añadimos el contrato {bill['printed']}")
    tab.wait_for_url("**/mi-oficina/contratos")
    assert linked(app)[-1] == bill["id"] and len(linked(app)) == 2
    axe(tab)
    check_reflow(tab, tab.url)

    # Name it; an empty name first.
    alias = tab.locator(f"#contrato{bill['id']}-alias")
    alias.fill("   ")
    tab.locator(f"#contrato-{bill['id']}").locator("xpath=..").get_by_role(
        "button", name="Guardar nombre").click()
    expect(tab.locator(".error-summary")).to_contain_text("Escribe un nombre")
    expect(tab.locator(f"#contrato{bill['id']}-alias")).to_have_attribute("aria-invalid", "true")
    axe(tab)
    tab.locator(f"#contrato{bill['id']}-alias").fill("Local de la tienda")
    tab.locator(f"#contrato-{bill['id']}").locator("xpath=..").get_by_role(
        "button", name="Guardar nombre").click()
    expect(tab.locator("main")).to_contain_text("Guardamos el nombre «Local de la tienda»")
    expect(tab.locator(f"#contrato-{bill['id']}")).to_have_text(
        f"Local de la tienda · Contrato {bill['printed']}")

    # The switcher on another tab shows the name.
    tab.get_by_role("navigation", name="Mi oficina").get_by_role(
        "link", name="Mis pagos").click()
    expect(tab.locator("h1")).to_have_text("Mis pagos")
    switch = tab.get_by_label("Contrato", exact=True)
    option = switch.locator("option", has_text=re.compile("^Local de la tienda · "))
    assert option.get_attribute("value") == str(bill["id"])
    switch.select_option(str(bill["id"]))
    tab.get_by_role("button", name="Ver").click()
    tab.wait_for_url(f"**/mi-oficina/pagos?contrato={bill['id']}")
    expect(tab.get_by_label("Contrato", exact=True)).to_have_value(str(bill["id"]))

    # Remove it, after the confirmation page.
    tab.goto("/mi-oficina/contratos")
    tab.get_by_role("link", name=f"Quitar este contrato ({bill['printed']})").click()
    expect(tab.locator("h1")).to_have_text("¿Quitar el contrato Local de la tienda?")
    axe(tab)
    check_reflow(tab, tab.url)
    tab.get_by_role("button", name="Sí, quitar este contrato").click()
    expect(tab.locator("main")).to_contain_text(f"Quitamos el contrato {bill['printed']}")
    assert len(linked(app)) == 1 and bill["id"] not in linked(app)

    # The last contract stays, and the page says why.
    tab.get_by_role("link", name=re.compile("^Quitar este contrato")).click()
    expect(tab.locator("h1")).to_have_text("No puedes quitar tu único contrato")
    expect(tab.locator("main")).to_contain_text("Tu usuario necesita al menos un contrato")
    assert tab.get_by_role("button", name="Sí, quitar este contrato").count() == 0
    axe(tab)
    check_reflow(tab, tab.url)
