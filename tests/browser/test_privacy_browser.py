"""Mis derechos ARCO in a phone-sized Chromium (360 px), with and without JavaScript: download
my data, ask for a correction and oppose a purpose (errors first), then cancel the user (a
wrong password first); axe on every page and error state (with JavaScript: axe needs it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ov.extensions import db
from ov.models import PrivacyRequest, User
from tests.browser.test_office_browser import sign_in
from tests.support.journeys import PASSWORD, Registration
from tests.support.reflow import check_reflow

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("billing")]


def folios(app) -> list[str]:
    with app.app_context():
        found = list(db.session.scalars(select(PrivacyRequest.folio)
                                        .order_by(PrivacyRequest.id)))
        db.session.remove()
        return found


def blocked(app) -> bool:
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        db.session.remove()
        return user.blocked_at is not None


def arco_section(tab):
    tab.get_by_role("navigation", name="Mi oficina").get_by_role("link", name="Mis datos").click()
    expect(tab.locator("h1")).to_have_text("Mis datos")
    return tab.get_by_role("region", name="Mis derechos ARCO")


def submit_with_errors(tab, axe, javascript: bool, title: str) -> None:
    tab.get_by_role("button", name="Enviar solicitud").click()
    expect(tab.locator(".error-summary")).to_be_visible()
    assert tab.title().startswith("Error: " + title)
    if javascript:
        expect(tab.locator(".error-summary")).to_be_focused()
    axe(tab)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_download_request_and_cancel(request, app, javascript):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    axe = request.getfixturevalue("axe") if javascript else (lambda _page: None)
    assert Registration(app.test_client(), app).complete().status_code == 303
    sign_in(tab)
    section = arco_section(tab)
    expect(section).to_contain_text("Aún no has presentado solicitudes")
    axe(tab)

    # Access: the summary page, then the file.
    section.get_by_role("link", name="Descargar mis datos").click()
    expect(tab.locator("h1")).to_have_text("Descargar mis datos")
    expect(tab.locator("main")).to_contain_text("1 contrato vinculado")
    axe(tab)
    check_reflow(tab, tab.url)
    with tab.expect_download() as download:
        tab.get_by_role("link", name="Descargar mis datos (JSON)").click()
    saved = download.value
    assert re.fullmatch(r"mis-datos-oficina-virtual-\d{4}-\d{2}-\d{2}\.json",
                        saved.suggested_filename)
    data = json.loads(Path(saved.path()).read_text(encoding="utf-8"))
    assert data["usuario"]["usuario"] == "usuPDFactura1"

    # Rectification: empty first, then a real one.
    section = arco_section(tab)
    section.get_by_role("link", name="Pedir una corrección").click()
    expect(tab.locator("h1")).to_have_text("Corregir mis datos (rectificación)")
    axe(tab)
    check_reflow(tab, tab.url)
    submit_with_errors(tab, axe, javascript, "Corregir mis datos")
    expect(tab.locator(".error-summary")).to_contain_text("Elige qué dato hay que corregir.")
    tab.get_by_label("¿Qué dato hay que corregir?").select_option("titular")
    tab.get_by_label("¿Qué está mal y cómo debe quedar?").fill(
        "El nombre dice Granado y es Granados.")
    tab.get_by_role("button", name="Enviar solicitud").click()
    expect(tab.locator("h1")).to_have_text(re.compile("^Solicitud ARCO-"))
    [folio] = folios(app)
    expect(tab.locator("h1")).to_have_text(f"Solicitud {folio}")
    expect(tab.locator("main")).to_contain_text(f"Registramos tu solicitud con el folio {folio}")
    expect(tab.locator("main")).to_contain_text("Granados.")
    axe(tab)
    check_reflow(tab, tab.url)

    # Opposition: "otra" needs words.
    section = arco_section(tab)
    expect(section.get_by_role("link", name=folio)).to_be_visible()
    section.get_by_role("link", name="Oponerme a un uso de mis datos").click()
    expect(tab.locator("h1")).to_have_text("Oponerme a un uso de mis datos (oposición)")
    tab.get_by_label("¿A qué finalidad te opones?").select_option("otra")
    submit_with_errors(tab, axe, javascript, "Oponerme a un uso")
    expect(tab.locator("#motivo")).to_have_attribute("aria-invalid", "true")
    expect(tab.get_by_label("¿A qué finalidad te opones?")).to_have_value("otra")
    tab.get_by_label("Cuéntanos más").fill("No quiero llamadas sobre encuestas.")
    tab.get_by_role("button", name="Enviar solicitud").click()
    expect(tab.locator("h1")).to_have_text(re.compile("^Solicitud ARCO-"))
    assert len(folios(app)) == 2

    # Cancellation: a wrong password first.
    section = arco_section(tab)
    section.get_by_role("link", name="Cancelar mi usuario").click()
    expect(tab.locator("h1")).to_have_text("Cancelar mi usuario")
    expect(tab.locator("main")).to_contain_text("Se bloquea al momento")
    axe(tab)
    check_reflow(tab, tab.url)
    tab.get_by_label("Tu contraseña").fill("Otra1234x")
    tab.get_by_role("button", name="Sí, cancelar mi usuario").click()
    expect(tab.locator(".error-summary")).to_contain_text("La contraseña no es correcta.")
    assert tab.title().startswith("Error: Cancelar mi usuario")
    expect(tab.get_by_label("Tu contraseña")).to_have_value("")
    if javascript:
        expect(tab.locator(".error-summary")).to_be_focused()
    axe(tab)
    assert not blocked(app)
    tab.get_by_label("Tu contraseña").fill(PASSWORD)
    tab.get_by_role("button", name="Sí, cancelar mi usuario").click()
    tab.wait_for_url("**/usuario-cancelado")
    expect(tab.locator("h1")).to_have_text("Cancelaste tu usuario")
    expect(tab.get_by_role("button", name="Desconectar")).to_have_count(0)
    assert blocked(app)
    axe(tab)
    check_reflow(tab, tab.url)

    # Signed out for good: Mi oficina asks to sign in, and signing in is refused.
    tab.goto("/mi-oficina/datos")
    tab.wait_for_url(re.compile(r"/entrar"))
    tab.fill("#usuario", "usuPDFactura1")
    tab.fill("#contrasena", PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    expect(tab.locator(".error-summary")).to_contain_text("Usuario o contraseña incorrectos")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_cancelling_waits_for_the_undo_period_and_old_links_refuse_a_cancelled_user(
        request, app, javascript):
    from ov.models import utcnow
    from tests.http.test_recovery_by_bill import (
        OWNER_EMAIL,
        THIEF_PASSWORD,
        link_in,
        recover,
    )

    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    axe = request.getfixturevalue("axe") if javascript else (lambda _page: None)
    assert Registration(app.test_client(), app).complete().status_code == 303
    recover(app, app.test_client())
    tab.goto("/entrar")
    tab.fill("#usuario", "usuPDFactura1")
    tab.fill("#contrasena", THIEF_PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url("**/mi-oficina")
    section = arco_section(tab)
    section.get_by_role("link", name="Cancelar mi usuario").click()
    expect(tab.locator("h1")).to_have_text("Aún no puedes cancelar tu usuario")
    expect(tab.locator("main")).to_contain_text("el correo anterior aún puede deshacerlo")
    expect(tab.get_by_role("button", name="Sí, cancelar mi usuario")).to_have_count(0)
    axe(tab)
    check_reflow(tab, tab.url)
    assert not blocked(app)
    # Cancelled by other means, the owner's old link no longer acts.
    undo = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    with app.app_context():
        db.session.scalars(select(User)).one().blocked_at = utcnow()
        db.session.commit()
        db.session.remove()
    tab.goto(undo)
    expect(tab.locator("h1")).to_have_text("Este usuario se canceló")
    axe(tab)
    check_reflow(tab, tab.url)
