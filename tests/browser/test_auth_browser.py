"""Signing in and out, the session warning and recovery, in a phone-sized Chromium."""

from __future__ import annotations

import email
import re
import threading
from email.policy import default as default_policy
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import OutboxMail
from ov.services import passwords
from tests.support.factories import make_customer
from tests.support.journeys import PASSWORD, SEED
from tests.support.smtp import PATIENCE

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
    assert "Usuario o contraseña incorrectos" in summary.inner_text()
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


def test_the_session_warning_offers_to_stay_signed_in(page, app, customer, axe):
    idle = app.config["OV_SESSION_IDLE_MINUTES"] * 60
    page.clock.install()  # the page's timers run on a clock the test moves
    log_in(page)
    page.wait_for_url(re.compile(r"/mi-oficina$"))
    page.problems.clear()
    signed_in_page(page)
    dialog = page.locator("#aviso-sesion")
    page.clock.run_for((idle - app.config["OV_SESSION_WARNING_SECONDS"]) * 1000)
    dialog.wait_for(state="visible")
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


# --- the "Done when": a newcomer registers, leaves, recovers and comes back ---------

RESET_SUBJECT = "Recupera el acceso a tu Oficina Virtual"


@pytest.fixture
def eml_mail(app, tmp_path, monkeypatch):
    """The default mail backend (``.eml`` files in a folder) on the running server. The
    test can wait for a mail's file: ``written[subject]`` is set once it is complete."""
    from ov.mail_backends import EmailBackend

    state = app.extensions["mailman"]
    folder = tmp_path / "mail"
    monkeypatch.setattr(state, "backend", "file")
    monkeypatch.setattr(state, "file_path", str(folder))
    written: dict[str, threading.Event] = {}
    real_write = EmailBackend.write_message

    def write_message(self, message):
        real_write(self, message)
        written.setdefault(message.subject, threading.Event()).set()

    monkeypatch.setattr(EmailBackend, "write_message", write_message)
    return SimpleNamespace(folder=folder, written=written)


def reset_link_from_eml(eml_mail) -> str:
    """The link of the reset mail, read from its .eml file as a mail program would."""
    done = eml_mail.written.setdefault(RESET_SUBJECT, threading.Event())
    assert done.wait(PATIENCE), f"no reset mail in {eml_mail.folder}"  # it follows the answer
    for path in sorted(eml_mail.folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        if message["Subject"] == RESET_SUBJECT:
            body = message.get_body(preferencelist=("plain",)).get_content()
            found = re.search(r"http://127\.0\.0\.1:5000(/recuperar/enlace/\S+)", body)
            assert found, body
            return found.group(1)
    raise AssertionError(f"no reset mail in {eml_mail.folder}: {list(eml_mail.folder.glob('*'))}")


def register_the_seed_contract(tab, username: str) -> None:
    tab.goto("/registro/paso-1")
    tab.get_by_label("Zona Geográfica").select_option(label=SEED["zone"])
    tab.get_by_label("Número de cuenta").fill(SEED["account"])
    tab.get_by_role("textbox", name=re.compile("^Número de factura")).fill(SEED["invoice"])
    tab.get_by_role("button", name="Continuar").click()
    tab.wait_for_url("**/registro/paso-2")
    tab.get_by_label("Usuario").fill(username)
    tab.get_by_label("Contraseña", exact=False).first.fill(PASSWORD)
    tab.get_by_label("Repite la contraseña").fill(PASSWORD)
    tab.get_by_label("Correo electrónico", exact=False).first.fill("correo@electronico.es")
    tab.get_by_label("Repite el correo electrónico").fill("correo@electronico.es")
    tab.get_by_role("button", name="Continuar").click()
    tab.wait_for_url("**/registro/paso-3")
    tab.get_by_label(re.compile("He leído y acepto")).check()
    tab.get_by_role("button", name="Enviar").click()
    tab.wait_for_url("**/registro/listo")


@pytest.mark.parametrize("javascript", [True, False])
def test_a_newcomer_logs_out_recovers_by_email_and_logs_back_in(
    request, app, billing, eml_mail, javascript, axe
):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    username = "usuPDFactura1"
    register_the_seed_contract(tab, username)
    tab.get_by_role("link", name="Entrar a la Oficina Virtual").click()
    tab.wait_for_url(f"**/entrar?usuario={username}")
    tab.fill("#contrasena", PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url(re.compile(r"/mi-oficina$"))
    tab.get_by_role("button", name="Desconectar").click()
    tab.wait_for_url(re.compile(r"/entrar$"))
    assert "Cerraste tu sesión" in tab.inner_text("main")

    tab.get_by_role("link", name="No recuerdo mi usuario y/o contraseña").click()
    tab.wait_for_url(re.compile(r"/recuperar$"))
    tab.get_by_label("Correo electrónico").fill("correo@electronico.es")
    tab.get_by_role("button", name="Enviar").click()
    tab.wait_for_url(re.compile(r"/recuperar/enviado$"))
    tab.goto(reset_link_from_eml(eml_mail))
    tab.wait_for_url(re.compile(r"/recuperar/nueva-contrasena$"))
    assert username in tab.inner_text("main")
    tab.fill("#contrasena", NEW_PASSWORD)
    tab.fill("#contrasena2", NEW_PASSWORD)
    tab.get_by_role("button", name="Guardar la contraseña").click()
    tab.wait_for_url(re.compile(r"/recuperar/listo$"))
    tab.get_by_role("link", name="Entrar a la Oficina Virtual").click()
    tab.wait_for_url(f"**/entrar?usuario={username}")
    tab.fill("#contrasena", NEW_PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url(re.compile(r"/mi-oficina$"))
    assert tab.get_by_role("button", name="Desconectar").count() == 1
    if javascript:
        axe(tab)


# --- axe on every error state -----------------------------------------------------------------

def submit_login(tab, password):
    tab.goto("/entrar")
    tab.fill("#usuario", "usuPDFactura1")
    tab.fill("#contrasena", password)
    tab.get_by_role("button", name="Entrar", exact=True).click()


def test_the_locked_and_throttled_login_states_are_accessible(page, app, customer, axe,
                                                               monkeypatch):
    monkeypatch.setitem(app.config, "OV_LOGIN_ACCOUNT_LIMIT", "6 per hour")
    for _ in range(5):
        submit_login(page, "Equivocada1")
        page.locator(".error-summary").wait_for()
    submit_login(page, PASSWORD)  # locked: the same message, even with the right password
    page.locator(".error-summary").wait_for()
    assert "Usuario o contraseña incorrectos" in page.inner_text(".error-summary")
    axe(page)
    submit_login(page, PASSWORD)  # and now the per-username throttle answers 429
    page.get_by_role("heading", name="Demasiados intentos").wait_for()
    axe(page)
    page.problems.clear()  # Chromium logs the 422 and 429 answers as failed loads


def test_an_expired_reset_link_page_is_accessible(page, app, customer, axe, monkeypatch):
    from itsdangerous.timed import TimestampSigner

    page.goto("/recuperar")
    page.get_by_label("Correo electrónico").fill("cliente@ejemplo.mx")
    page.get_by_role("button", name="Enviar").click()
    page.wait_for_url(re.compile(r"/recuperar/enviado$"))
    link = reset_link(app)
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) + 61 * 60)
    response = page.goto(link)
    assert response.status == 400 and "ya no es válido" in page.inner_text("h1")
    page.problems.clear()
    axe(page)


def test_the_recovery_form_errors_are_accessible(page, customer, axe):
    page.goto("/recuperar")
    page.get_by_label("Correo electrónico").fill("no-es-un-correo")
    page.get_by_role("button", name="Enviar").click()
    page.locator(".error-summary").wait_for()
    assert page.title().startswith("Error: ")
    axe(page)
    page.problems.clear()


def test_the_recovery_by_bill_errors_are_accessible(page, app, billing, axe):
    page.goto("/recuperar/con-factura")
    axe(page)
    page.get_by_role("button", name="Continuar").click()  # nothing typed
    page.locator(".error-summary").wait_for()
    assert page.title().startswith("Error: ")
    axe(page)
    page.get_by_label("Zona Geográfica").select_option(label=SEED["zone"])
    page.get_by_label("Número de cuenta").fill(SEED["account"])
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill("ZE00000000")
    page.get_by_role("button", name="Continuar").click()  # a bill that does not match
    page.get_by_text("Los datos no coinciden").wait_for()
    axe(page)
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill(SEED["invoice"])
    page.get_by_role("button", name="Continuar").click()  # right, but nobody registered it
    page.get_by_role("heading", name="Este contrato no tiene usuario").wait_for()
    axe(page)
    page.problems.clear()


def test_the_new_data_form_after_the_bill_shows_its_errors_accessibly(page, app, billing, axe):
    from tests.support.journeys import Registration

    Registration(app.test_client(), app).complete()
    page.goto("/recuperar/con-factura")
    page.get_by_label("Zona Geográfica").select_option(label=SEED["zone"])
    page.get_by_label("Número de cuenta").fill(SEED["account"])
    page.get_by_role("textbox", name=re.compile("^Número de factura")).fill(SEED["invoice"])
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url(re.compile(r"/recuperar/con-factura/nuevos-datos$"))
    assert "usuPDFactura1" in page.inner_text("main")
    axe(page)
    page.get_by_role("button", name="Guardar").click()
    page.locator(".error-summary").wait_for()
    assert page.title().startswith("Error: ")
    axe(page)
    page.problems.clear()


def test_the_weak_password_error_on_the_reset_form_is_accessible(page, app, customer, axe):
    page.goto("/recuperar")
    page.get_by_label("Correo electrónico").fill("cliente@ejemplo.mx")
    page.get_by_role("button", name="Enviar").click()
    page.wait_for_url(re.compile(r"/recuperar/enviado$"))
    page.goto(reset_link(app))
    page.wait_for_url(re.compile(r"/recuperar/nueva-contrasena$"))
    page.fill("#contrasena", "password")
    page.fill("#contrasena2", "password")
    page.get_by_role("button", name="Guardar la contraseña").click()
    page.locator(".error-summary").wait_for()
    assert page.title().startswith("Error: ")
    axe(page)
    page.problems.clear()


def test_the_session_ended_notice_is_accessible(page, app, customer, axe, monkeypatch):
    from ov import auth_helpers

    log_in(page)
    page.wait_for_url(re.compile(r"/mi-oficina$"))
    later = auth_helpers.now() + 21 * 60
    monkeypatch.setattr(auth_helpers, "now", lambda: later)
    page.goto("/mi-oficina")
    page.wait_for_url(re.compile(r"/entrar\?next="))
    assert "Tu sesión se cerró por inactividad" in page.inner_text("main")
    axe(page)
