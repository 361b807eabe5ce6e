"""Mis datos > Preferencias in a phone-sized Chromium (360 px), with and without JavaScript:
turn the paper bill back on, choose notices by email, ask for the bill in braille (after an
unchanged choice and a stale page's conflict), and see it pending on Mis datos and Mis
solicitudes; axe on every page and error state (with JavaScript: axe needs it)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, ServiceRequest, User, UserAccount
from ov.services import service_requests
from tests.browser.test_office_browser import sign_in
from tests.support.journeys import SEED, Registration
from tests.support.reflow import check_reflow

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("billing")]


@pytest.fixture
def registered(app) -> int:
    """The seed's customer registered (paper off, notices on); the seed contract's id."""
    journey = Registration(app.test_client(), app)
    assert journey.step1().status_code == 303
    assert journey.step2().status_code == 303
    assert journey.step3(avisos="y").status_code == 303
    with app.app_context():
        account_id = db.session.scalar(select(Account.id).where(Account.number == SEED["account"]))
        db.session.remove()
        return account_id


def the_user(app) -> User:
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        db.session.expunge(user)
        return user


def folios(app) -> list[str]:
    with app.app_context():
        found = list(db.session.scalars(select(ServiceRequest.folio).order_by(ServiceRequest.id)))
        db.session.remove()
        return found


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_change_preferences_and_ask_for_braille(request, app, javascript, registered):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    axe = request.getfixturevalue("axe") if javascript else (lambda _page: None)
    account_id = registered
    sign_in(tab)
    tab.get_by_role("navigation", name="Mi oficina").get_by_role("link", name="Mis datos").click()
    expect(tab.locator("h1")).to_have_text("Mis datos")
    tab.get_by_role("link", name="Cambiar tus preferencias").click()
    expect(tab.locator("h1")).to_have_text("Preferencias")
    tab.wait_for_url("**/mi-oficina/datos/preferencias")
    axe(tab)
    check_reflow(tab, tab.url)
    if javascript:
        tab.evaluate("window.notReloaded = true")

    # The paper bill back on.
    paperless = tab.get_by_role("group", name="¿Quieres recibir tu factura solo por correo")
    paperless.get_by_label("No").check()
    tab.get_by_role("button", name="Guardar factura electrónica").click()
    expect(tab.locator("main")).to_contain_text(
        "Listo: volverás a recibir tu factura en papel a partir de la factura que emitiremos "
        "alrededor del")
    assert the_user(app).paperless_bill is False
    if javascript:  # the keyboard and the screen reader land on the confirmation
        assert tab.evaluate("document.activeElement.getAttribute('role')") == "status"
        assert tab.evaluate("document.activeElement.textContent").startswith(
            "Listo: volverás a recibir")
    axe(tab)

    # Notices by email: no payment notices.
    tab.get_by_role("group", name="Pago aplicado").get_by_label("No").check()
    tab.get_by_role("button", name="Guardar avisos por correo").click()
    expect(tab.locator("main")).to_contain_text(
        "te enviaremos por correo los avisos de nueva factura, de cambios en tus solicitudes "
        "y del periodo para dar tu lectura.")
    assert the_user(app).notify_payment is False
    if javascript:
        expect(tab.get_by_role("status").filter(has_text="te enviaremos por correo")
               ).to_be_focused()
    expect(tab.get_by_role("group", name="Pago aplicado").get_by_label("No")).to_be_checked()

    # The format it already has: an error beside the question.
    question = tab.get_by_role("group", name="¿Cómo quieres la factura impresa del contrato")
    tab.get_by_role("button", name="Pedir este formato").click()
    summary = tab.locator(".error-summary")
    expect(summary).to_contain_text("Tu factura ya se imprime en formato normal")
    expect(tab).to_have_title(re.compile("^Error: Preferencias"))
    expect(question.get_by_label("Normal", exact=True)).to_have_attribute("aria-invalid", "true")
    if javascript:
        expect(summary).to_be_focused()
    axe(tab)
    check_reflow(tab, tab.url)

    # Another tab asked meanwhile: this stale page's request is a conflict.
    with app.app_context():
        link = db.session.scalars(select(UserAccount)).one()
        service_requests.ask_bill_format(link, "letra_grande", client_address=None)
        db.session.commit()
        db.session.remove()
    tab.get_by_role("group", name="¿Cómo quieres la factura impresa del contrato").get_by_label(
        "Braille").check()
    tab.get_by_role("button", name="Pedir este formato").click()
    expect(tab.locator(".error-summary")).to_contain_text("Ya tienes una solicitud abierta")
    [first] = folios(app)
    expect(tab.locator("main")).to_contain_text(
        "Pendiente: pediste tu factura en letra grande el")
    axe(tab)

    if javascript:
        assert tab.evaluate("window.notReloaded === true")  # each form swapped in place

    # Staff resolve it; now braille can be asked.
    with app.app_context():
        service_requests.set_status(first, "resuelta")
        db.session.commit()
        db.session.remove()
    tab.goto("/mi-oficina/datos/preferencias")
    expect(tab.locator("main")).to_contain_text("Hoy se imprime en formato letra grande.")
    if javascript:
        tab.evaluate("window.notReloaded = true")
    tab.get_by_role("group", name="¿Cómo quieres la factura impresa del contrato").get_by_label(
        "Braille").check()
    tab.get_by_role("button", name="Pedir este formato").click()
    expect(tab.locator("main")).to_contain_text("Listo: pediste tu factura del contrato")
    second = folios(app)[-1]
    expect(tab.locator("main")).to_contain_text(
        "Pendiente: pediste tu factura en braille el")
    expect(tab.locator("main")).to_contain_text(f"folio {second}.")
    axe(tab)
    check_reflow(tab, tab.url)
    if javascript:
        assert tab.evaluate("window.notReloaded === true")  # every form swapped in place

    tab.get_by_role("navigation", name="Mi oficina").get_by_role(
        "link", name="Mis solicitudes y reclamos").click()
    rows = tab.locator("main tbody tr")
    expect(rows.filter(has_text=second)).to_contain_text(
        "Factura en formato accesible (braille)")
    expect(rows.filter(has_text=second)).to_contain_text("Recibida")
    expect(rows.filter(has_text=first)).to_contain_text(
        "Factura en formato accesible (letra grande)")
    expect(rows.filter(has_text=first)).to_contain_text("Resuelta")
    axe(tab)
    tab.get_by_role("navigation", name="Mi oficina").get_by_role("link", name="Mis datos").click()
    expect(tab.locator("main")).to_contain_text(f"folio {second}")
    expect(tab.locator("main")).to_contain_text("No, desde la factura de alrededor del")
    assert account_id
    axe(tab)
