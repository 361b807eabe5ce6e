"""Mis solicitudes y reclamos in a phone-sized Chromium (360 px), with and without
JavaScript: file a claim from an invoice (after an empty try and a description that tells of a
leak), see it with its folio, add a comment, find it in the list and the invoice "en
aclaración"; axe on the list, the form, its error state, the leak notices and the request's
page (with JavaScript: axe needs it), and reflow at 360 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ov.extensions import db
from ov.models import ServiceRequest
from ov.services import passwords
from tests.browser.test_office_browser import sign_in
from tests.support import images
from tests.support.factories import make_customer, make_invoices
from tests.support.journeys import PASSWORD
from tests.support.reflow import check_reflow

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_db")]

#: The width of an image once it has loaded: at once if it has, else at its load event
#: (0 if it fails). Evaluated in one task, so the event cannot slip in between.
LOADED_WIDTH = """(img) => img.complete ? img.naturalWidth : new Promise((done) => {
    img.addEventListener("load", () => done(img.naturalWidth), {once: true});
    img.addEventListener("error", () => done(0), {once: true});
})"""


@pytest.fixture
def invoice_id(app) -> int:
    with app.app_context():
        _, account = make_customer(password_hash=passwords.hash_password(PASSWORD))
        made = make_invoices(account, 6)
        db.session.commit()
        return made[-2].id



def filed(app) -> list[ServiceRequest]:
    with app.app_context():
        rows = list(db.session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
        return rows


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_file_a_claim_from_an_invoice_and_follow_it(request, app, javascript, invoice_id):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    axe = request.getfixturevalue("axe") if javascript else (lambda _page: None)
    sign_in(tab)
    tab.goto(f"/mi-oficina/facturas/{invoice_id}")
    tab.get_by_role("link",
                    name="¿No estás de acuerdo con esta factura? Abre una aclaración").click()
    expect(tab.locator("h1")).to_have_text("Nueva solicitud o reclamo")
    if javascript:
        tab.evaluate("window.notReloaded = true")
    expect(tab.get_by_label("Aclaración de factura")).to_be_checked()
    expect(tab.locator("#factura")).to_have_value(str(invoice_id))
    axe(tab)
    check_reflow(tab, tab.url)

    # Sent without a description: the error summary, the answers kept.
    tab.get_by_role("button", name="Enviar", exact=True).click()
    summary = tab.locator(".error-summary")
    expect(summary).to_contain_text("Escribe la descripción.")
    expect(tab.get_by_label("Aclaración de factura")).to_be_checked()
    if javascript:
        expect(summary).to_be_focused()
    assert tab.title().startswith("Error: ")
    axe(tab)

    # A description that tells of a leak: the emergency notice, nothing filed.
    tab.locator("#descripcion").fill("Creo que huele a gas cerca del medidor.")
    tab.get_by_role("button", name="Enviar", exact=True).click()
    notice = tab.locator("#fuga-de-gas")
    expect(notice).to_contain_text("Tu descripción habla de una fuga de gas.")
    expect(notice.get_by_role("link", name="800 000 4273")).to_have_attribute(
        "href", "tel:8000004273")
    expect(tab.locator("#descripcion")).to_have_value("Creo que huele a gas cerca del medidor.")
    assert filed(app) == []
    axe(tab)
    check_reflow(tab, tab.url)

    # It was the bill, not a leak.
    tab.locator("#descripcion").fill("El consumo de este mes es el doble del habitual.")
    tab.set_input_files("#foto", files=[{"name": "IMG_2041.JPG", "mimeType": "image/jpeg",
                                         "buffer": images.photo(1200, 900)}])
    tab.get_by_role("button", name="Enviar", exact=True).click()
    expect(tab.locator("h1")).to_contain_text("folio SR-")
    [claim] = filed(app)
    assert claim.invoice_id == invoice_id and claim.category == "bill_clarification"
    expect(tab.locator("main")).to_contain_text(f"Recibimos tu reclamo. Tu folio es {claim.folio}")
    expect(tab.locator("main")).to_contain_text(claim.answer_due_on.strftime("%d/%m/%Y"))
    assert tab.url.endswith(f"/mi-oficina/solicitudes/{claim.id}")
    assert claim.photo_id is not None
    picture = tab.get_by_role("img", name=f"La foto que enviaste con tu reclamo {claim.folio}")
    expect(picture).to_be_visible()
    # Visible is not loaded: wait for the image's load (or error) event, then its size.
    assert picture.evaluate(LOADED_WIDTH) > 0
    axe(tab)
    check_reflow(tab, tab.url)

    tab.locator("#comentario").fill("Les dejo la lectura de hoy: 1234 m³.")
    tab.get_by_role("button", name="Enviar comentario").click()
    timeline = tab.locator("section[aria-labelledby='seguimiento']")
    expect(timeline).to_contain_text("comentaste")
    expect(timeline).to_contain_text("Les dejo la lectura de hoy: 1234 m³.")
    expect(tab.locator("main")).to_contain_text("Agregamos tu comentario a la solicitud.")
    axe(tab)

    tab.get_by_role("link", name="Volver a Mis solicitudes y reclamos").click()
    expect(tab.locator("h1")).to_have_text("Mis solicitudes y reclamos")
    row = tab.locator(f"#solicitud-{claim.id}")
    expect(row).to_contain_text("Reclamo: Aclaración de factura")
    expect(row).to_contain_text("Recibida")
    axe(tab)
    check_reflow(tab, tab.url)
    if javascript:
        assert tab.evaluate("window.notReloaded === true")  # every step swapped in place

    tab.goto("/mi-oficina/facturas")  # the lazy table: the expectation waits for it
    expect(tab.locator("#tabla-facturas tr", has_text="en aclaración")).to_have_count(1)
    tab.goto(f"/mi-oficina/facturas/{invoice_id}")
    expect(tab.locator("main")).to_contain_text(f"en aclaración (reclamo {claim.folio})")


def test_the_leak_choice_shows_the_notice_and_passes_axe(page, axe, app, invoice_id):
    sign_in(page)
    page.goto("/mi-oficina/solicitudes/nueva")
    page.get_by_role("link", name="qué hacer ahora").click()
    expect(page.locator("h1")).to_have_text("Fuga de gas: qué hacer ahora")
    expect(page.locator("textarea")).to_have_count(0)
    expect(page.locator("#fuga-de-gas")).to_be_focused()
    axe(page)
    check_reflow(page, page.url)
    page.goto("/mi-oficina/solicitudes/nueva")
    page.get_by_label("Fuga de gas u olor a gas").check()
    page.get_by_role("button", name="Enviar", exact=True).click()
    expect(page.locator("h1")).to_have_text("Fuga de gas: qué hacer ahora")
    expect(page.locator("#fuga-de-gas")).to_be_focused()
    assert re.search(r"/mi-oficina/solicitudes/nueva$", page.url)
    assert filed(app) == []
    axe(page)
