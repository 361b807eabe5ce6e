"""The seed guide's registration in a phone-sized Chromium: with JavaScript, without it,
and with the keyboard alone; axe on every step and every error state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ov.extensions import db
from ov.models import User
from tests.support.htmx_events import htmx_finished
from tests.support.journeys import PASSWORD, SEED

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("billing")]


def focused(page) -> str:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.id || e.className || e.tagName; }"
    )


def registered(app, username: str) -> bool:
    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.username == username))
        db.session.remove()
        return found is not None


def fill_step2(page, username: str, again: str = PASSWORD) -> None:
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña", exact=False).first.fill(PASSWORD)
    page.get_by_label("Repite la contraseña").fill(again)
    page.get_by_label("Correo electrónico", exact=False).first.fill("correo@electronico.es")
    page.get_by_label("Repite el correo electrónico").fill("correo@electronico.es")


def test_the_journey_with_javascript(page, axe, app):
    page.goto("/registro/paso-1")
    axe(page)
    page.get_by_label("Zona Geográfica").select_option(label=SEED["zone"])
    account = page.get_by_label("Número de cuenta")
    account.fill("40989917-7")
    account.press("Tab")  # change → inline validation of this field only
    error = page.locator("#cuenta-error .field-error")
    error.wait_for()
    assert "escribe solo 40989917" in error.inner_text()
    assert focused(page) == "factura"  # the next control keeps the focus: not moved
    axe(page)
    account.fill(SEED["account"])
    account.press("Tab")
    error.wait_for(state="detached")

    # The "Instructivo" opens as a dialog; Esc closes it and focus returns to its button,
    # even when leaving the invoice field first re-rendered that field (and the button).
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill("ZE4038")
    help_button = page.get_by_role("button", name=re.compile("Instructivo"))
    help_button.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "Control" in dialog.inner_text()
    axe(page)
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    expect(page.get_by_role("button", name=re.compile("Instructivo"))).to_be_focused()
    assert page.url.endswith("/registro/paso-1")

    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill(SEED["invoice"].lower())
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/registro/paso-2")
    expect(page.locator(".step-title")).to_be_focused()
    assert "paso 2" in page.title()
    axe(page)

    fill_step2(page, "usuJavaScript1", again="Tq7mZ2pLx8")
    page.get_by_role("button", name="Continuar").click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    expect(page.locator(".error-summary")).to_be_focused()
    assert page.title().startswith("Error: ")
    assert page.url.endswith("/registro/paso-2")
    axe(page)
    page.get_by_label("Contraseña", exact=False).first.fill(PASSWORD)
    page.get_by_label("Repite la contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/registro/paso-3")
    axe(page)

    # The back button returns to step 2 with its answers; forward comes back to step 3.
    page.go_back()
    page.wait_for_url("**/registro/paso-2")
    page.get_by_label("Usuario").wait_for()
    assert page.get_by_label("Usuario").input_value() == "usuJavaScript1"
    page.go_forward()
    page.wait_for_url("**/registro/paso-3")
    page.get_by_role("button", name="Enviar").wait_for()

    page.get_by_role("button", name="Enviar").click()
    page.locator(".error-summary").wait_for()  # the legal notice is not accepted yet
    axe(page)
    page.get_by_label(re.compile("He leído y acepto")).check()
    page.get_by_role("button", name="Enviar").click()
    page.wait_for_url("**/registro/listo")
    assert "usuJavaScript1" in page.locator("main").inner_text()
    axe(page)
    assert registered(app, "usuJavaScript1")


def test_the_journey_without_javascript(page_nojs, app):
    page = page_nojs
    page.goto("/registro/paso-1")
    page.get_by_label("Zona Geográfica").select_option(label=SEED["zone"])
    page.get_by_label("Número de cuenta").fill(SEED["account"])
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill("ZE4038")
    # The "Instructivo" is a page of its own; its way back keeps the answers typed so far.
    page.get_by_role("button", name=re.compile("Instructivo")).click()
    page.wait_for_url("**/ayuda/factura?desde=registro")
    assert page.get_by_role("img").get_attribute("alt").count("Cuenta") == 1
    page.get_by_role("link", name="Volver al registro").click()
    page.wait_for_url("**/registro/paso-1")
    assert page.get_by_label("Número de cuenta").input_value() == SEED["account"]
    invoice = page.get_by_role("textbox", name=re.compile("^Número de factura"))
    assert invoice.input_value() == "ZE4038"

    page.get_by_role("button", name="Continuar").click()  # a 422 page, answers kept
    assert page.title().startswith("Error: ")
    assert "Escribiste 6 caracteres" in page.locator("#factura-error").inner_text()
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill(SEED["invoice"])
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/registro/paso-2")
    fill_step2(page, "usuSinJavaScript")
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/registro/paso-3")
    page.get_by_role("link", name=re.compile("^Cambiar.*usuario")).click()
    page.wait_for_url("**/registro/paso-2")
    page.get_by_role("button", name="Continuar").click()  # password kept when left empty
    page.wait_for_url("**/registro/paso-3")
    page.get_by_label(re.compile("He leído y acepto")).check()
    page.get_by_role("button", name="Enviar").click()
    page.wait_for_url("**/registro/listo")
    assert registered(app, "usuSinJavaScript")
    page.get_by_role("link", name="Entrar a la Oficina Virtual").click()
    page.wait_for_url("**/entrar?usuario=usuSinJavaScript")


def test_the_journey_with_the_keyboard_alone(page, app):
    page.goto("/registro/paso-1")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Enter")
    while focused(page) != "zona":
        page.keyboard.press("Tab")
    page.keyboard.type("Nuevo")
    page.keyboard.press("Tab")
    page.keyboard.type(SEED["account"])
    page.keyboard.press("Tab")  # the invoice number (its "Instructivo" comes after it)
    assert focused(page) == "factura"
    page.keyboard.type(SEED["invoice"])
    page.keyboard.press("Enter")  # "Continuar", not the "Instructivo" button
    page.wait_for_url("**/registro/paso-2")
    expect(page.locator(".step-title")).to_be_focused()
    # Each password field is followed by its "Mostrar contraseña" button.
    for name, value in (("usuario", "usuTeclado01"), ("contrasena", PASSWORD),
                        ("contrasena2", PASSWORD), ("correo", "tec@ejemplo.mx"),
                        ("correo2", "tec@ejemplo.mx")):
        page.keyboard.press("Tab")
        while focused(page) != name:
            page.keyboard.press("Tab")
        page.keyboard.type(value)
    page.keyboard.press("Enter")
    page.wait_for_url("**/registro/paso-3")
    expect(page.locator(".step-title")).to_be_focused()
    while focused(page) != "acepto":
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    page.wait_for_url("**/registro/listo")
    assert registered(app, "usuTeclado01")


def test_the_error_answers_of_step1_are_accessible(page, axe, app):
    from tests.support.journeys import Registration

    page.goto("/registro/paso-1")
    page.get_by_role("button", name="Continuar").click()  # nothing filled in: 422
    expect(page.locator(".error-summary")).to_be_focused()
    axe(page)
    page.get_by_label("Zona Geográfica").select_option(label=SEED["zone"])
    page.get_by_label("Número de cuenta").fill(SEED["account"])
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill("ZE00000000")
    page.get_by_role("button", name="Continuar").click()  # no such bill: the generic message
    expect(page.locator(".error-summary")).to_contain_text("no coinciden")
    axe(page)
    Registration(app.test_client(), app).complete()  # someone registers the contract
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill(SEED["invoice"])
    page.get_by_role("button", name="Continuar").click()
    expect(page.locator("h1")).to_have_text("Este contrato ya está registrado")
    axe(page)


def test_a_rate_limited_inline_check_leaves_the_form_alone(page, app, monkeypatch):
    monkeypatch.setitem(app.config, "OV_INLINE_VALIDATION_LIMIT", "1 per minute")
    page.goto("/registro/paso-1")
    page.get_by_label("Zona Geográfica").select_option(label=SEED["zone"])
    account = page.get_by_label("Número de cuenta")
    account.fill("40989917-7")
    account.press("Tab")
    expect(page.locator("#cuenta-error")).to_contain_text("escribe solo 40989917")
    with (htmx_finished(page, "/registro/validar/cuenta"),  # htmx is done with the answer
          page.expect_response("**/registro/validar/cuenta") as limited):
        account.fill(SEED["account"])
        account.press("Tab")
    assert limited.value.status == 429
    expect(page.locator("h1")).to_have_text("Registrarse en la Oficina Virtual")
    expect(account).to_have_value(SEED["account"])
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill(SEED["invoice"])
    page.get_by_role("button", name="Continuar").click()
    expect(page).to_have_url(re.compile("/registro/paso-2$"))


def share_session(page, app, live_server: str, client) -> None:
    """Give the browser the session a test client built (a draft, or a signed-in user)."""
    name = app.config["SESSION_COOKIE_NAME"]
    page.context.add_cookies(
        [{"name": name, "value": client.get_cookie(name).value, "url": live_server}]
    )


def test_step3_boxes_are_named_unticked_and_toggled_by_their_labels(page, axe, app,
                                                                     live_server):
    from tests.support.journeys import Registration

    reg = Registration(app.test_client(), app)
    reg.step1()
    reg.step2()
    share_session(page, app, live_server, reg.client)
    page.goto("/registro/paso-3")
    expect(page.get_by_text("(*) Campos obligatorios")).to_be_visible()
    for label in ("Quiero recibir mi factura por correo electrónico",
                  "Quiero recibir avisos por correo electrónico"):
        box = page.get_by_role("checkbox", name=label)
        expect(box).not_to_be_checked()
        page.get_by_text(label, exact=True).click()  # the label, not the box
        expect(box).to_be_checked()
    axe(page)


def test_step2_offers_show_password_with_javascript(page, axe, app, live_server):
    from tests.support.journeys import Registration

    reg = Registration(app.test_client(), app)
    reg.step1()
    share_session(page, app, live_server, reg.client)
    page.goto("/registro/paso-2")
    toggles = page.get_by_role("button", name="Mostrar contraseña")
    expect(toggles).to_have_count(2)
    password = page.get_by_label("Contraseña", exact=False).first
    password.fill(PASSWORD)
    toggles.first.click()
    expect(password).to_have_attribute("type", "text")
    expect(toggles.first).to_have_attribute("aria-pressed", "true")
    axe(page)
    # An inline check of the password swaps only its message: the button stays.
    page.get_by_label("Repite la contraseña").fill("otra1234")
    page.get_by_label("Repite la contraseña").press("Tab")
    expect(page.locator("#contrasena2-error")).to_contain_text("no coinciden")
    expect(toggles).to_have_count(2)
    axe(page)


def test_text_inputs_show_the_error_border_the_select_shows(page):
    page.goto("/registro/paso-1")
    page.get_by_role("button", name="Continuar").click()  # nothing filled in: 422
    expect(page.locator(".error-summary")).to_be_focused()

    def border(selector: str) -> str:
        return page.locator(selector).evaluate("e => getComputedStyle(e).borderTopColor")

    wrong = border("#zona")
    assert border("#cuenta") == border("#factura") == wrong
    page.get_by_label("Número de cuenta").fill(SEED["account"])
    page.get_by_label("Número de cuenta").press("Tab")
    expect(page.get_by_label("Número de cuenta")).not_to_have_attribute("aria-invalid", "true")
    assert border("#cuenta") != wrong


def test_resending_the_confirmation_says_it_once_and_passes_axe(page, axe, app, live_server):
    from tests.support.journeys import Registration, sign_in

    reg = Registration(app.test_client(), app)
    reg.complete()
    sign_in(reg.client, "usuPDFactura1")
    share_session(page, app, live_server, reg.client)
    page.goto("/mi-oficina")
    page.get_by_role("button", name="Reenviar el correo").click()
    notice = page.locator(".confirm-notice")
    expect(notice).to_contain_text("Te enviamos un correo nuevo")
    expect(page.get_by_role("status").filter(has_text="correo")).to_have_count(1)
    axe(page)


def test_too_many_usernames_is_a_clear_answer_that_keeps_the_form(page, axe, app,
                                                                  live_server, monkeypatch):
    from tests.support.journeys import Registration

    monkeypatch.setitem(app.config, "OV_REGISTRATION_USERNAME_DRAFT_LIMIT", "1 per hour")
    reg = Registration(app.test_client(), app)
    reg.step1()
    reg.step2(usuario="usuPrimero01")  # the draft's one check
    share_session(page, app, live_server, reg.client)
    page.goto("/registro/paso-2")
    fill_step2(page, "usuSegundo02")
    with page.expect_response("**/registro/paso-2") as limited:
        page.get_by_role("button", name="Continuar").click()
    assert limited.value.status == 429
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator(".error-summary")).to_contain_text("Se probaron muchos nombres")
    expect(page.get_by_label("Usuario")).to_have_value("usuSegundo02")
    expect(page.get_by_label("Repite el correo electrónico")).to_have_value(
        "correo@electronico.es")
    assert page.title().startswith("Error: ")
    axe(page)


def test_too_many_new_registrations_from_one_address_is_a_clear_answer(page, axe, app,
                                                                       monkeypatch):
    from tests.support.journeys import Registration

    monkeypatch.setitem(app.config, "OV_REGISTRATION_DRAFT_IP_LIMIT", "1 per hour")
    someone = Registration(app.test_client(), app)  # the same address starts one
    someone.client.post("/registro/paso-1",
                        data={**someone.step1_form(), "accion": "instructivo"})
    page.goto("/registro/paso-1")
    page.get_by_label("Zona Geográfica").select_option(label=SEED["zone"])
    page.get_by_label("Número de cuenta").fill(SEED["account"])
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill(SEED["invoice"])
    with page.expect_response("**/registro/paso-1") as limited:
        page.get_by_role("button", name="Continuar").click()
    assert limited.value.status == 429
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator(".error-summary")).to_contain_text("Se empezaron muchos registros")
    expect(page.get_by_label("Número de cuenta")).to_have_value(SEED["account"])
    axe(page)
