"""Signing in and out, the session warning and recovery, in a phone-sized Chromium."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import OutboxMail
from ov.services import passwords
from tests.support.factories import make_customer
from tests.support.journeys import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_db")]

NEW_PASSWORD = "Rk4vW8nQz3"


@pytest.fixture
def customer(app):
    with app.app_context():
        user, _ = make_customer(password_hash=passwords.hash_password(PASSWORD))
        db.session.commit()
        return user.id


def log_in(tab, password=PASSWORD):
    tab.goto("/entrar")
    tab.fill("#usuario", "usuPDFactura1")
    tab.fill("#contrasena", password)
    tab.get_by_role("button", name="Entrar", exact=True).click()


def signed_in_page(tab):
    """The office is the lead's blueprint: land on a public page that shows the header."""
    tab.goto("/")
    return tab.get_by_role("button", name="Desconectar")


@pytest.mark.parametrize("javascript", [True, False])
def test_log_in_and_out(page, page_nojs, customer, javascript, axe):
    tab = page if javascript else page_nojs
    if javascript:
        tab.problems.clear()
    log_in(tab)
    tab.wait_for_url(re.compile(r"/mi-oficina$"))
    if javascript:
        tab.problems[:] = [p for p in tab.problems if "/mi-oficina" not in p]
    button = signed_in_page(tab)
    assert "Primera conexión" in tab.inner_text("header")
    assert tab.get_by_role("link", name="Mi oficina").count() == 1
    if javascript:
        axe(tab)
    button.click()
    tab.wait_for_url(re.compile(r"/entrar$"))
    assert "Cerraste tu sesión" in tab.inner_text("main")
    assert tab.get_by_role("link", name="Entrar").count() == 1
    if javascript:
        axe(tab)


def test_a_wrong_password_shows_the_error_summary(page, customer, axe):
    page.goto("/entrar")
    page.fill("#usuario", "usuPDFactura1")
    page.fill("#contrasena", "Equivocada1")
    page.get_by_role("button", name="Entrar", exact=True).click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert "no son correctos" in summary.inner_text()
    assert page.title().startswith("Error: ")
    page.problems.clear()  # the 422 answer is logged by Chromium as a failed resource
    axe(page)


def test_the_show_password_toggle(page, page_nojs, axe):
    page_nojs.goto("/entrar")
    assert page_nojs.get_by_role("button", name="Mostrar contraseña").count() == 0
    page.goto("/entrar")
    toggle = page.get_by_role("button", name="Mostrar contraseña")
    assert toggle.get_attribute("aria-pressed") == "false"
    page.fill("#contrasena", "Secreta123")
    toggle.click()
    assert page.get_attribute("#contrasena", "type") == "text"
    assert toggle.get_attribute("aria-pressed") == "true"
    toggle.click()
    assert page.get_attribute("#contrasena", "type") == "password"
    axe(page)


def test_the_session_warning_offers_to_stay_signed_in(page, app, customer, monkeypatch, axe):
    idle = app.config["OV_SESSION_IDLE_MINUTES"] * 60
    monkeypatch.setitem(app.config, "OV_SESSION_WARNING_SECONDS", idle - 2)
    log_in(page)
    page.wait_for_url(re.compile(r"/mi-oficina$"))
    page.problems.clear()
    signed_in_page(page)
    dialog = page.locator("#aviso-sesion")
    dialog.wait_for(state="visible", timeout=10_000)
    assert "¿Sigues ahí?" in dialog.inner_text()
    axe(page)
    with page.expect_response(lambda r: r.url.endswith("/sesion/seguir")) as answer:
        page.get_by_role("button", name="Seguir conectado").click()
    assert answer.value.status == 204
    dialog.wait_for(state="hidden")
    assert page.get_by_role("button", name="Desconectar").is_visible()


def reset_link(app) -> str:
    with app.app_context():
        body = db.session.scalars(
            select(OutboxMail.body_text).where(OutboxMail.subject.startswith("Recupera"))
        ).one()
    return re.search(r"http://127\.0\.0\.1:5000(/recuperar/enlace/\S+)", body).group(1)


@pytest.mark.parametrize("javascript", [True, False])
def test_recovery_by_email_end_to_end(page, page_nojs, app, customer, javascript, axe):
    tab = page if javascript else page_nojs
    tab.goto("/recuperar")
    if javascript:
        axe(tab)
    tab.fill("#correo", "cliente@ejemplo.mx")
    tab.get_by_role("button", name="Enviar").click()
    tab.wait_for_url(re.compile(r"/recuperar/enviado$"))
    assert "Revisa tu correo" in tab.inner_text("h1")
    if javascript:
        axe(tab)
    tab.goto(reset_link(app))
    tab.wait_for_url(re.compile(r"/recuperar/nueva-contrasena$"))  # no token in the URL
    assert "usuPDFactura1" in tab.inner_text("main")
    if javascript:
        axe(tab)
    tab.fill("#contrasena", NEW_PASSWORD)
    tab.fill("#contrasena2", NEW_PASSWORD)
    tab.get_by_role("button", name="Guardar la contraseña").click()
    tab.wait_for_url(re.compile(r"/recuperar/listo$"))
    if javascript:
        axe(tab)
    tab.get_by_role("link", name="Entrar a la Oficina Virtual").click()
    tab.fill("#contrasena", NEW_PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url(re.compile(r"/mi-oficina$"))
    if javascript:
        tab.problems[:] = [p for p in tab.problems if "/mi-oficina" not in p]


def test_a_used_or_broken_reset_link_page_is_accessible(page, axe):
    """auth.reset_link is a TOKEN_PAGES entry: its error state gets the same axe check."""
    response = page.goto("/recuperar/enlace/no-es-un-token")
    assert response.status == 400
    assert "ya no es válido" in page.inner_text("h1")
    page.problems.clear()
    axe(page)
