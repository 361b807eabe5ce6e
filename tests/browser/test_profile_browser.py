"""Mis datos in a phone-sized Chromium (360 px), with and without JavaScript: add a phone, ask
for a new email and confirm it from its link, change the password (another browser's session
ends), close the other sessions; axe on every page and error state (with JavaScript: axe
needs it), reflow at phone widths."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ov.blueprints.office import reauth
from tests.browser.test_office_browser import sign_in
from tests.conftest import PHONE
from tests.support.htmx_events import htmx_finished
from tests.support.journeys import PASSWORD, Registration
from tests.support.reflow import check_reflow
from tests.support.rows import outbox

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("billing")]

NEW = "nuevo.correo@ejemplo.mx"
NEW_PASSWORD = "Wd4kPq8sZr"


def mailed_link(app, to: str, path: str) -> str:
    for row in reversed(outbox(app)):
        found = re.search(rf"https?://[^/\s]+(/{path}/\S+)", row.body_text)
        if row.to_address == to and found:
            return found.group(1)
    raise AssertionError(f"no {path} link mailed to {to}")


def signed_in_elsewhere(browser, live_server, password: str = PASSWORD):
    """Another browser of the same customer, signed in on Mis datos."""
    context = browser.new_context(base_url=live_server, **PHONE)
    tab = context.new_page()
    tab.goto("/entrar")
    tab.fill("#usuario", "usuPDFactura1")
    tab.fill("#contrasena", password)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url("**/mi-oficina")
    return context, tab


def ended(tab) -> None:
    """The other browser's next page is the login page."""
    tab.goto("/mi-oficina/datos")
    tab.wait_for_url(re.compile(r"/entrar"))
    expect(tab.locator("h1")).to_have_text("Identifícate")


def submit(tab, name: str) -> None:
    tab.get_by_role("button", name=name).click()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_change_phone_email_and_password_and_close_the_other_sessions(
        request, app, browser, live_server, javascript, monkeypatch):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    axe = request.getfixturevalue("axe") if javascript else (lambda _page: None)
    assert Registration(app.test_client(), app).complete().status_code == 303
    sign_in(tab)
    tab.get_by_role("navigation", name="Mi oficina").get_by_role("link", name="Mis datos").click()
    expect(tab.locator("h1")).to_have_text("Mis datos")
    expect(tab.locator("main")).to_contain_text("Actividad reciente")
    expect(tab.locator("main table")).to_contain_text("Chrome")
    axe(tab)
    check_reflow(tab, tab.url)

    # The phone: a wrong one first, then as people write it.
    tab.get_by_role("link", name="Añadir tu teléfono").click()
    expect(tab.locator("h1")).to_have_text("Cambiar mi teléfono")
    axe(tab)
    check_reflow(tab, tab.url)
    tab.fill("#telefono", "81 1234 abcd")
    submit(tab, "Guardar el teléfono")
    summary = tab.locator(".error-summary")
    expect(summary).to_contain_text("Quita «a»")
    expect(tab).to_have_title(re.compile(r"^Error: Cambiar mi teléfono"))
    expect(tab.locator("#telefono")).to_have_value("81 1234 abcd")
    if javascript:
        expect(summary).to_be_focused()
    axe(tab)
    tab.fill("#telefono", "(81) 1234-5678")
    submit(tab, "Guardar el teléfono")
    expect(tab.locator("main")).to_contain_text("Guardamos tu teléfono 81 1234 5678")
    tab.wait_for_url("**/mi-oficina/datos")

    # The email: the two answers must match; then the link goes to the new address.
    tab.get_by_role("link", name="Cambiar tu correo electrónico").click()
    expect(tab.locator("h1")).to_have_text("Cambiar mi correo electrónico")
    expect(tab.locator("#contrasena")).to_have_count(0)  # a fresh session
    axe(tab)
    check_reflow(tab, tab.url)
    tab.fill("#correo", NEW)
    tab.fill("#correo2", "otro@ejemplo.mx")
    submit(tab, "Enviar el enlace")
    expect(tab.locator(".error-summary")).to_contain_text("Los correos no coinciden")
    expect(tab.locator("#correo")).to_have_value(NEW)
    axe(tab)
    tab.fill("#correo2", NEW)
    submit(tab, "Enviar el enlace")
    expect(tab.locator("main")).to_contain_text(f"Te enviamos un enlace a {NEW}")
    expect(tab.locator("main")).to_contain_text("Correo nuevo, por confirmar")
    axe(tab)
    check_reflow(tab, tab.url)
    tab.goto(mailed_link(app, NEW, "confirmar-correo"))
    submit(tab, "Confirmar mi correo nuevo")
    tab.wait_for_url("**/correo-confirmado")
    tab.goto("/mi-oficina/datos")
    expect(tab.locator("main")).to_contain_text(f"{NEW} (confirmado)")

    # The password: another browser's session ends, this one stays.
    other, elsewhere = signed_in_elsewhere(browser, live_server)
    try:
        tab.get_by_role("link", name="Cambiar tu contraseña").click()
        expect(tab.locator("h1")).to_have_text("Cambiar mi contraseña")
        axe(tab)
        check_reflow(tab, tab.url)
        tab.fill("#actual", "Incorrecta1")
        tab.fill("#contrasena", NEW_PASSWORD)
        tab.fill("#contrasena2", NEW_PASSWORD)
        submit(tab, "Guardar la contraseña")
        expect(tab.locator(".error-summary")).to_contain_text("La contraseña no es correcta")
        expect(tab.locator("#actual")).to_have_attribute("aria-invalid", "true")
        axe(tab)
        tab.fill("#actual", PASSWORD)
        tab.fill("#contrasena", NEW_PASSWORD)
        tab.fill("#contrasena2", NEW_PASSWORD)
        submit(tab, "Guardar la contraseña")
        expect(tab.locator("main")).to_contain_text("Cambiamos tu contraseña")
        ended(elsewhere)
    finally:
        other.close()

    # "Cerrar mis otras sesiones".
    other, elsewhere = signed_in_elsewhere(browser, live_server, NEW_PASSWORD)
    try:
        tab.goto("/mi-oficina/datos")
        submit(tab, "Cerrar mis otras sesiones")
        expect(tab.locator("main")).to_contain_text("Cerramos tus sesiones en otros")
        expect(tab.locator("h1")).to_have_text("Mis datos")  # this one goes on
        ended(elsewhere)
    finally:
        other.close()

    # Some time after signing in, the email asks for the password again.
    later = reauth.now() + (app.config["OV_REAUTH_MINUTES"] + 1) * 60
    monkeypatch.setattr(reauth, "now", lambda: later)
    tab.goto("/mi-oficina/datos/correo")
    expect(tab.locator("#contrasena")).to_have_count(1)
    axe(tab)
    tab.fill("#correo", "tercero@ejemplo.mx")
    tab.fill("#correo2", "tercero@ejemplo.mx")
    submit(tab, "Enviar el enlace")
    expect(tab.locator(".error-summary")).to_contain_text("Escribe tu contraseña actual")
    expect(tab.locator("#correo")).to_have_value("tercero@ejemplo.mx")
    axe(tab)


def test_an_address_taken_before_its_link_is_opened(page, axe, app, monkeypatch):
    from tests.http.test_office_profile import another_user

    assert Registration(app.test_client(), app).complete().status_code == 303
    sign_in(page)
    page.goto("/mi-oficina/datos/correo")
    page.fill("#correo", NEW)
    page.fill("#correo2", NEW)
    submit(page, "Enviar el enlace")
    expect(page.locator("main")).to_contain_text("Correo nuevo, por confirmar")
    another_user(app, NEW)
    page.goto(mailed_link(app, NEW, "confirmar-correo"))
    expect(page.locator("h1")).to_have_text("No pudimos confirmar tu correo nuevo")
    axe(page)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    # Mis datos: the taken address is refused with the registration's words.
    page.goto("/mi-oficina/datos/correo")
    page.fill("#correo", NEW.upper())
    page.fill("#correo2", NEW)
    submit(page, "Enviar el enlace")
    expect(page.locator(".error-summary")).to_contain_text("ya está registrado con otro usuario")
    axe(page)
    # Past OV_EMAIL_CHANGE_LIMIT "taken" answers, every address waits (429).
    monkeypatch.setitem(app.config, "OV_EMAIL_CHANGE_LIMIT", "1 per hour")
    page.fill("#correo2", NEW.upper())
    # Each answer awaited by its htmx event: the summary already says "taken" before the
    # first one arrives, and a click while a request is in flight would be dropped.
    with htmx_finished(page, "/mi-oficina/datos/correo"):
        submit(page, "Enviar el enlace")  # the one "taken" answer of the new limit
    expect(page.locator(".error-summary")).to_contain_text("ya está registrado")
    with htmx_finished(page, "/mi-oficina/datos/correo"):
        submit(page, "Enviar el enlace")
    expect(page.locator(".error-summary")).to_contain_text("Probaste muchos correos")
    axe(page)
