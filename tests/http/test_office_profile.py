"""Mis datos through HTTP: the email (confirmed from the new address), the phone, the password,
the recent sign-ins and "Cerrar mis otras sesiones"; re-asking the password when the session
is not fresh."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import select

from ov import auth_helpers
from ov.extensions import db
from ov.models import User
from ov.services import profile
from ov.services.validation import mask_email
from tests.support.journeys import PASSWORD, Registration, hidden, sign_in
from tests.support.rows import events, outbox

pytestmark = pytest.mark.usefixtures("billing")

DATOS = "/mi-oficina/datos"
EMAIL = DATOS + "/correo"
PHONE = DATOS + "/telefono"
PASSWORD_URL = DATOS + "/contrasena"
END_OTHERS = DATOS + "/cerrar-sesiones"
CANCEL = DATOS + "/correo/cancelar"
OWNER = "correo@electronico.es"  # the address Registration gives the seed's customer
NEW = "nuevo.correo@ejemplo.mx"
NEW_PASSWORD = "Wd4kPq8sZr"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


@pytest.fixture
def customer(app, client):
    """The seed's customer, registered and signed in (from Firefox)."""
    assert Registration(client, app).complete().status_code == 303
    client.environ_base["HTTP_USER_AGENT"] = FIREFOX
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return client


def the_user(app, username: str = "usuPDFactura1") -> User:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == username)).one()
        db.session.expunge(user)
        return user


def another_user(app, email: str, *, blocked: bool = False, username: str = "otraPersona22",
                 number: str = "99999901") -> None:
    from tests.support.factories import make_customer

    with app.app_context():
        user, _ = make_customer(username=username, email=email, number=number)
        if blocked:
            user.blocked_at = datetime(2026, 11, 1, tzinfo=UTC)
        db.session.commit()


def post(client, url: str, headers=None, **answers):
    form = {"csrf_token": hidden(client.get(url).get_data(as_text=True), "csrf_token")}
    form.update(answers)
    return client.post(url, data=form, headers=headers or {})


def post_from_profile(client, url: str, **answers):
    form = {"csrf_token": hidden(client.get(DATOS).get_data(as_text=True), "csrf_token")}
    form.update(answers)
    return client.post(url, data=form)


def go_stale(client) -> None:
    """The session signed in longer ago than OV_REAUTH_MINUTES (it is still in use)."""
    with client.session_transaction() as stored:
        stored[auth_helpers.STARTED] -= 11 * 60


def link_in(app, to: str, path: str) -> str:
    for row in reversed(outbox(app)):
        if row.to_address == to:
            found = re.search(rf"https?://[^/\s]+(/{path}/\S+)", row.body_text)
            if found:
                return found.group(1)
    raise AssertionError(f"no {path} link mailed to {to}")


def confirm(client, url: str):
    page = client.get(url)
    if page.status_code != 200:
        return page
    return client.post(url, data={"csrf_token": hidden(page.get_data(as_text=True),
                                                       "csrf_token")})


# --- Mis datos ------------------------------------------------------------------------------

def test_mis_datos_has_a_change_link_for_each_item(customer):
    html = text(customer.get(DATOS))
    for url, what in [(EMAIL, "tu correo electrónico"), (PHONE, "tu teléfono"),
                      (PASSWORD_URL, "tu contraseña")]:
        assert re.search(rf'<a href="{url}" data-hx-get="{url}"[^>]*>(Cambiar|Añadir)'
                         rf'<span class="visually-hidden"> {what}</span></a>', html), url
    assert "Sin teléfono" in html


def test_recent_activity_lists_sign_ins_with_their_browser(app, customer):
    other = app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = FIREFOX
    assert sign_in(other, "usuPDFactura1", "Incorrecta1").status_code == 422
    html = text(customer.get(DATOS))
    section = html[html.index("Actividad reciente"):]
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th><td data-label=\"Navegador\">"
                      r"([^<]+)</td><td data-label=\"Estado\">([^<]+)</td></tr>", section)
    assert [(browser, result[:5]) for _, browser, result in rows] == [
        ("Firefox", "No en"), ("Firefox", "Entró")]
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", rows[0][0])
    succeeded = events(app, "login_succeeded")[-1]
    assert succeeded.details["browser"] == "Firefox"
    assert all(FIREFOX not in str(event.details) for event in events(app, "login_failed"))


# --- the email ------------------------------------------------------------------------------

def test_a_new_email_waits_for_its_link_and_the_current_address_is_told(app, customer):
    response = post(customer, EMAIL, correo=NEW, correo2=NEW.upper())
    assert response.status_code == 303 and response.location == DATOS
    user = the_user(app)
    assert user.email == OWNER and user.pending_email == NEW
    mails = outbox(app)[-2:]
    assert [row.to_address for row in mails] == [NEW, OWNER]
    told = mails[1].body_text
    assert mask_email(NEW) in told
    assert NEW not in told
    assert "solo se hace si" in told and "Si no fuiste tú" in told
    page = text(customer.get(DATOS))
    assert f"Te enviamos un enlace a {NEW}" in page
    assert "Correo nuevo, por confirmar" in page and NEW in page
    assert 'action="/mi-oficina/reenviar-confirmacion"' in page
    assert "Cancelar el cambio" in page
    assert [event.user_id for event in events(app, "email_change_requested")] == [user.id]

    # Opening the link on the new address makes the change; the replaced one can undo it.
    link = link_in(app, NEW, "confirmar-correo")
    assert confirm(customer, link).status_code == 303
    assert the_user(app).email == NEW and the_user(app).pending_email is None
    assert link_in(app, OWNER, "deshacer-cambio")
    # A second use changes nothing more.
    again = customer.get(link)
    assert "ya está confirmado" in text(again)
    assert len(events(app, "email_changed")) == 1


def test_the_resend_button_mails_the_pending_address_again(app, customer):
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    before = len(outbox(app))
    sent = post_from_profile(customer, "/mi-oficina/reenviar-confirmacion", next=DATOS)
    assert sent.status_code == 303 and sent.location == DATOS
    assert [row.to_address for row in outbox(app)[before:]] == [NEW]


def test_cancelling_the_change_kills_its_link(app, customer):
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    link = link_in(app, NEW, "confirmar-correo")
    empty = post_from_profile(customer, CANCEL)  # the form posted back without its button
    assert empty.status_code == 422 and the_user(app).pending_email == NEW
    response = post_from_profile(customer, CANCEL, confirmar="si")
    assert response.status_code == 303
    assert the_user(app).pending_email is None
    assert f"Cancelamos el cambio a {NEW}" in text(customer.get(DATOS))
    assert customer.get(link).status_code == 400
    assert len(events(app, "email_change_cancelled")) == 1


def test_an_expired_confirmation_link_changes_nothing(app, customer, frozen_clock):
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    link = link_in(app, NEW, "confirmar-correo")
    frozen_clock[0] += app.config["OV_EMAIL_CONFIRM_MAX_AGE"] + 1
    assert confirm(customer, link).status_code == 400
    assert the_user(app).email == OWNER


@pytest.mark.parametrize(("answers", "field", "says"), [
    ({"correo": NEW, "correo2": "otro@ejemplo.mx"}, "correo2", "Los correos no coinciden"),
    ({"correo": OWNER.upper(), "correo2": OWNER}, "correo", profile.SAME_EMAIL),
    ({"correo": "no-es-un-correo", "correo2": "no-es-un-correo"}, "correo",
     "Escribe un correo electrónico válido"),
    ({"correo": "", "correo2": ""}, "correo", "Escribe tu correo electrónico"),
])
def test_a_wrong_email_answer_is_refused_with_the_answers_kept(app, customer, answers, field,
                                                              says):
    response = post(customer, EMAIL, **answers)
    assert response.status_code == 422
    html = text(response)
    assert html.count("<title>Error: Cambiar mi correo electrónico") == 1
    assert f'href="#{field}"' in html and says in html
    if answers["correo"]:  # (an address's domain is kept in lower case)
        assert f'value="{answers["correo"].split("@")[0]}' in html
    assert the_user(app).pending_email is None


@pytest.mark.parametrize("typed", ["Otra.Persona@Ejemplo.mx", "otra.persona@ejemplo.mx"])
def test_an_address_another_user_has_is_taken(app, customer, typed):
    another_user(app, "otra.persona@ejemplo.mx")
    response = post(customer, EMAIL, correo=typed, correo2=typed)
    assert response.status_code == 422
    assert profile.EMAIL_TAKEN in text(response)
    assert the_user(app).pending_email is None


def test_a_blocked_users_address_can_be_taken(app, customer):
    another_user(app, "otra.persona@ejemplo.mx", blocked=True)
    response = post(customer, EMAIL, correo="otra.persona@ejemplo.mx",
                    correo2="otra.persona@ejemplo.mx")
    assert response.status_code == 303


def test_an_address_taken_before_the_link_is_opened_is_not_confirmed(app, customer):
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    link = link_in(app, NEW, "confirmar-correo")
    another_user(app, NEW.upper())
    page = customer.get(link)
    assert page.status_code == 409 and "ya está registrado con otro usuario" in text(page)
    sent = customer.post(link, data={"csrf_token": hidden(
        customer.get(DATOS).get_data(as_text=True), "csrf_token")})
    assert sent.status_code == 409
    assert the_user(app).email == OWNER
    assert events(app, "email_changed") == []


def test_registration_step_2_refuses_a_taken_address_with_the_same_words(app):
    another_user(app, "correo@electronico.es")
    journey = Registration(app.test_client(), app)
    assert journey.step1().status_code == 303
    response = journey.step2()
    assert response.status_code == 422
    assert profile.EMAIL_TAKEN in text(response)
    assert journey.step2(correo="libre@ejemplo.mx", correo2="libre@ejemplo.mx"
                         ).status_code == 303


def a_second_customer(app):
    """Another user of the seed's (their own contract), signed in with PASSWORD."""
    from ov.services import passwords

    another_user(app, "otra.persona@ejemplo.mx")
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "otraPersona22")).one()
        user.password_hash = passwords.hash_password(PASSWORD)
        db.session.commit()
    other = app.test_client()
    assert sign_in(other, "otraPersona22").status_code == 303
    return other


def test_an_address_pending_for_another_user_is_taken(app, customer):
    other = a_second_customer(app)
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    response = post(other, EMAIL, correo=NEW.upper(), correo2=NEW.upper())
    assert response.status_code == 422 and profile.EMAIL_TAKEN in text(response)
    assert [row.to_address for row in outbox(app)].count(NEW) == 1


def test_an_address_whose_undo_link_is_open_is_taken_until_it_closes(app, customer):
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    assert confirm(app.test_client(), link_in(app, NEW, "confirmar-correo")).status_code == 303
    assert the_user(app).email == NEW
    other = a_second_customer(app)
    response = post(other, EMAIL, correo=OWNER.upper(), correo2=OWNER.upper())
    assert response.status_code == 422 and profile.EMAIL_TAKEN in text(response)
    with app.app_context():
        assert profile.email_taken(OWNER)
        assert not profile.email_taken(OWNER, except_user_id=the_user(app).id)
    # The undo link closes OV_UNDO_LINK_DAYS after the change: the address is free again.
    from datetime import timedelta

    from ov.models import AccountChange

    with app.app_context():
        for change in db.session.scalars(select(AccountChange)):
            change.created_at -= timedelta(days=app.config["OV_UNDO_LINK_DAYS"], minutes=1)
        db.session.commit()
        assert not profile.email_taken(OWNER)


def test_the_undo_gives_the_address_back_to_one_user_only(app, customer):
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    assert confirm(app.test_client(), link_in(app, NEW, "confirmar-correo")).status_code == 303
    other = a_second_customer(app)
    # Meanwhile another user tries to take the old address: refused, the undo stays its.
    assert post(other, EMAIL, correo=OWNER, correo2=OWNER).status_code == 422
    assert confirm(app.test_client(), link_in(app, OWNER, "deshacer-cambio")).status_code == 303
    with app.app_context():
        holders = db.session.scalars(select(User.username).where(
            User.email_key == OWNER.casefold())).all()
    assert holders == ["usuPDFactura1"]


def age_changes(app, days: int) -> None:
    """Move every account change (and its undo, if any) ``days`` into the past."""
    from datetime import timedelta

    from ov.models import AccountChange

    with app.app_context():
        for change in db.session.scalars(select(AccountChange)):
            change.created_at -= timedelta(days=days)
            if change.spent_at:
                change.spent_at -= timedelta(days=days)
        db.session.commit()


def test_an_old_change_kept_open_by_its_chain_keeps_its_address_taken(app, customer):
    """A chain keeps its older changes open for OV_UNDO_LINK_DAYS after its last event, so
    the first address stays taken while its undo link works, however old the change is."""
    from ov.services import account_changes

    later = "otro.correo@ejemplo.mx"
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    assert confirm(app.test_client(), link_in(app, NEW, "confirmar-correo")).status_code == 303
    age_changes(app, days=6)
    assert post(customer, EMAIL, correo=later, correo2=later).status_code == 303
    assert confirm(app.test_client(), link_in(app, later, "confirmar-correo")).status_code == 303
    age_changes(app, days=2)
    with app.app_context():
        owner = db.session.get(User, the_user(app).id)
        assert account_changes.link_for(owner, OWNER)  # its undo still works
        assert profile.email_taken(OWNER.upper())
    other = a_second_customer(app)
    response = post(other, EMAIL, correo=OWNER, correo2=OWNER)
    assert response.status_code == 422 and profile.EMAIL_TAKEN in text(response)


def test_registration_step_3_checks_the_address_again(app):
    journey = Registration(app.test_client(), app)
    assert journey.step1().status_code == 303
    assert journey.step2().status_code == 303
    another_user(app, "CORREO@electronico.es")  # taken while step 3 was open
    response = journey.step3()
    assert response.status_code == 303 and response.location.endswith("/paso-2")
    page = text(journey.client.get(response.location))
    assert profile.EMAIL_TAKEN in page and 'value="correo@electronico.es"' in page
    with app.app_context():
        assert db.session.scalars(select(User.username).where(
            User.email_key == OWNER)).all() == ["otraPersona22"]
    assert journey.step2(correo="libre@ejemplo.mx", correo2="libre@ejemplo.mx"
                         ).status_code == 303
    assert journey.step3().status_code == 303
    assert the_user(app).email == "libre@ejemplo.mx"


def test_a_stale_session_gets_no_answer_about_the_address_before_the_password(app, customer):
    another_user(app, "otra.persona@ejemplo.mx")
    go_stale(customer)
    for password in ("", "Incorrecta1"):
        response = post(customer, EMAIL, correo="otra.persona@ejemplo.mx",
                        correo2="otra.persona@ejemplo.mx", contrasena=password)
        assert response.status_code == 422
        assert "ya está registrado" not in text(response)
    right = post(customer, EMAIL, correo="otra.persona@ejemplo.mx",
                 correo2="otra.persona@ejemplo.mx", contrasena=PASSWORD)
    assert right.status_code == 422 and profile.EMAIL_TAKEN in text(right)


def test_taken_address_answers_are_limited_per_user(app, customer, monkeypatch):
    another_user(app, "otra.persona@ejemplo.mx")
    monkeypatch.setitem(app.config, "OV_EMAIL_CHANGE_LIMIT", "3 per hour")
    for _ in range(3):
        response = post(customer, EMAIL, correo="otra.persona@ejemplo.mx",
                        correo2="otra.persona@ejemplo.mx")
        assert response.status_code == 422
    for typed in ("otra.persona@ejemplo.mx", NEW):  # then every address waits, free or not
        response = post(customer, EMAIL, correo=typed, correo2=typed)
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
        html = text(response)
        assert "Probaste muchos correos" in html and "ya está registrado" not in html
        assert f'value="{typed}"' in html
    assert the_user(app).pending_email is None


def test_a_new_password_drops_the_pending_address(app, customer):
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    link = link_in(app, NEW, "confirmar-correo")
    assert post(customer, PASSWORD_URL, actual=PASSWORD, contrasena=NEW_PASSWORD,
                contrasena2=NEW_PASSWORD).status_code == 303
    assert the_user(app).pending_email is None
    assert app.test_client().get(link).status_code == 400
    assert confirm(app.test_client(), link).status_code == 400
    assert the_user(app).email == OWNER


def test_a_password_reset_drops_the_pending_address(app, customer):
    from ov.services import auth as auth_service

    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    link = link_in(app, NEW, "confirmar-correo")
    with app.app_context():
        user = db.session.get(User, the_user(app).id)
        auth_service.set_password(user, NEW_PASSWORD)
        db.session.commit()
    assert the_user(app).pending_email is None and the_user(app).pending_email_at is None
    assert app.test_client().get(link).status_code == 400


def test_with_htmx_the_email_form_answers_in_place(customer, htmx_headers):
    response = post(customer, EMAIL, headers=htmx_headers, correo=NEW, correo2="x@ejemplo.mx")
    assert response.status_code == 422
    html = text(response)
    assert html.startswith("<title>Error: Cambiar mi correo electrónico")
    assert "<html" not in html


# --- asking for the password again ----------------------------------------------------------

def test_a_fresh_session_is_not_asked_for_the_password(customer):
    assert 'name="contrasena"' not in text(customer.get(EMAIL))


def test_a_stale_session_gives_the_password_to_change_the_email(app, customer):
    go_stale(customer)
    html = text(customer.get(EMAIL))
    assert "Tu contraseña actual" in html and 'name="contrasena"' in html
    without = post(customer, EMAIL, correo=NEW, correo2=NEW)
    assert without.status_code == 422
    html = text(without)
    assert "Escribe tu contraseña actual." in html and f'value="{NEW}"' in html
    wrong = post(customer, EMAIL, correo=NEW, correo2=NEW, contrasena="Incorrecta1")
    assert wrong.status_code == 422 and "La contraseña no es correcta." in text(wrong)
    assert the_user(app).failed_logins == 1
    assert [e.details["purpose"] for e in events(app, "reauth_failed")] == ["email_change"]
    assert the_user(app).pending_email is None
    right = post(customer, EMAIL, correo=NEW, correo2=NEW, contrasena=PASSWORD)
    assert right.status_code == 303 and the_user(app).pending_email == NEW
    assert 'name="contrasena"' not in text(customer.get(EMAIL))  # fresh again


# --- the phone ------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "shown"), [
    ("81 1234 5678", "81 1234 5678"), ("(81) 1234-5678", "81 1234 5678"),
    ("+52 81 1234 5678", "81 1234 5678"), ("8671234567", "867 123 4567"),
])
def test_a_phone_is_saved_as_ten_digits_and_shown_grouped(app, customer, typed, shown):
    response = post(customer, PHONE, telefono=typed)
    assert response.status_code == 303 and response.location == DATOS
    assert the_user(app).phone == shown.replace(" ", "")
    html = text(customer.get(DATOS))
    assert f"<dd>{shown}</dd>" in html and f"Guardamos tu teléfono {shown}" in html
    assert f'value="{shown}"' in text(customer.get(PHONE))
    assert len(events(app, "phone_changed")) == 1


def test_an_empty_phone_removes_it(app, customer):
    assert post(customer, PHONE, telefono="81 1234 5678").status_code == 303
    assert post(customer, PHONE, telefono="  ").status_code == 303
    assert the_user(app).phone is None
    assert "Quitamos tu teléfono" in text(customer.get(DATOS))
    assert [e.details["removed"] for e in events(app, "phone_changed")] == [False, True]


@pytest.mark.parametrize(("typed", "says"), [
    ("81 1234 567", "Le faltan dígitos"), ("81 1234 abcd", "Quita «a»"),
    ("+1 212 555 0100", "número de México"),
])
def test_a_wrong_phone_is_refused_with_its_reason(app, customer, typed, says):
    response = post(customer, PHONE, telefono=typed)
    assert response.status_code == 422
    html = text(response)
    assert says in html and f'value="{typed}"' in html and 'aria-invalid="true"' in html
    assert the_user(app).phone is None and events(app, "phone_changed") == []


def test_a_phone_form_without_its_field_changes_nothing(app, customer):
    assert post(customer, PHONE).status_code == 422
    assert events(app, "phone_changed") == []


# --- the password ---------------------------------------------------------------------------

def other_browser(app):
    """A second browser of the same customer, signed in."""
    other = app.test_client()
    assert sign_in(other, "usuPDFactura1").status_code == 303
    assert other.get(DATOS).status_code == 200
    return other


def test_a_new_password_ends_the_other_sessions_and_tells_the_owner(app, customer):
    other = other_browser(app)
    response = post(customer, PASSWORD_URL, actual=PASSWORD, contrasena=NEW_PASSWORD,
                    contrasena2=NEW_PASSWORD)
    assert response.status_code == 303 and response.location == DATOS
    assert "Cambiamos tu contraseña" in text(customer.get(DATOS))  # this session stays
    assert other.get(DATOS).status_code == 302  # the other one is sent to sign in
    assert outbox(app)[-1].to_address == OWNER
    assert outbox(app)[-1].subject == "Cambiaste tu contraseña de la Oficina Virtual"
    assert len(events(app, "password_changed")) == 1
    assert sign_in(app.test_client(), "usuPDFactura1", NEW_PASSWORD).status_code == 303


def test_a_wrong_current_password_counts_towards_the_lock_and_mails_once(app, customer):
    limit = app.config["OV_LOGIN_MAX_FAILURES"]
    for _ in range(limit + 1):
        response = post(customer, PASSWORD_URL, actual="Incorrecta1",
                        contrasena=NEW_PASSWORD, contrasena2=NEW_PASSWORD)
        assert response.status_code == 422
    html = text(response)
    assert "bloqueado" in html
    assert the_user(app).failed_logins == limit
    assert len(events(app, "account_locked")) == 1
    locked = [row for row in outbox(app) if "Bloqueamos" in row.subject]
    assert len(locked) == 1
    assert events(app, "password_changed") == []


def test_the_new_password_must_differ_from_the_current_one(app, customer):
    response = post(customer, PASSWORD_URL, actual=PASSWORD, contrasena=PASSWORD,
                    contrasena2=PASSWORD)
    assert response.status_code == 422
    assert "Elige una contraseña distinta de la actual." in text(response)
    assert events(app, "password_changed") == []


def test_a_locked_user_can_still_give_the_password_in_their_own_session(app, customer):
    other = app.test_client()
    for _ in range(app.config["OV_LOGIN_MAX_FAILURES"]):
        sign_in(other, "usuPDFactura1", "Incorrecta1")
    assert the_user(app).locked_until is not None
    go_stale(customer)
    wrong = post(customer, EMAIL, correo=NEW, correo2=NEW, contrasena="Incorrecta1")
    assert wrong.status_code == 422 and "no es correcta" in text(wrong)
    failures = the_user(app).failed_logins
    right = post(customer, EMAIL, correo=NEW, correo2=NEW, contrasena=PASSWORD)
    assert right.status_code == 303 and the_user(app).pending_email == NEW
    assert the_user(app).locked_until is not None  # the lock at /entrar stays
    assert the_user(app).failed_logins == failures
    assert sign_in(app.test_client(), "usuPDFactura1").status_code != 303


@pytest.mark.parametrize(("answers", "field", "says"), [
    ({"actual": "", "contrasena": NEW_PASSWORD, "contrasena2": NEW_PASSWORD}, "actual",
     "Escribe tu contraseña actual."),
    ({"actual": PASSWORD, "contrasena": NEW_PASSWORD, "contrasena2": "Otra12345"},
     "contrasena2", "Las contraseñas no coinciden"),
    ({"actual": PASSWORD, "contrasena": "", "contrasena2": ""}, "contrasena",
     "Escribe una contraseña nueva."),
    ({"actual": PASSWORD, "contrasena": "corta1", "contrasena2": "corta1"}, "contrasena", ""),
])
def test_the_new_password_follows_the_reset_forms_rules(app, customer, answers, field, says):
    response = post(customer, PASSWORD_URL, **answers)
    assert response.status_code == 422
    html = text(response)
    assert f'href="#{field}"' in html and says in html
    assert NEW_PASSWORD not in html and PASSWORD not in html  # passwords never come back
    assert events(app, "password_changed") == []


def test_the_policys_reasons_are_the_reset_forms(app, customer):
    from ov.services import passwords

    reasons = passwords.check("usuPDFactura1", username="usuPDFactura1", email=OWNER)
    assert reasons
    response = post(customer, PASSWORD_URL, actual=PASSWORD, contrasena="usuPDFactura1",
                    contrasena2="usuPDFactura1")
    assert response.status_code == 422 and reasons[0] in text(response)


# --- the other sessions ---------------------------------------------------------------------

def test_closing_the_other_sessions_keeps_this_one(app, customer):
    other = other_browser(app)
    response = post_from_profile(customer, END_OTHERS, confirmar="si")
    assert response.status_code == 303 and response.location == DATOS
    assert "Cerramos tus sesiones en otros" in text(customer.get(DATOS))
    assert other.get(DATOS).status_code == 302
    assert the_user(app).sessions_ended_at is not None
    assert len(events(app, "other_sessions_ended")) == 1
    # Signing in again afterwards works as usual.
    again = app.test_client()
    assert sign_in(again, "usuPDFactura1").status_code == 303
    assert again.get(DATOS).status_code == 200


def test_closing_the_other_sessions_ends_the_other_browsers_device_cookies(app, customer):
    other = other_browser(app)
    cookie = auth_helpers.DEVICE_COOKIE
    given = other.get_cookie(cookie)
    assert given is not None
    assert post_from_profile(customer, END_OTHERS, confirmar="si").status_code == 303
    with app.test_request_context(headers={"Cookie": f"{cookie}={given.value}"}):
        assert auth_helpers.device_nonce(db.session.get(User, the_user(app).id)) is None
    mine = customer.get_cookie(cookie).value
    with app.test_request_context(headers={"Cookie": f"{cookie}={mine}"}):
        assert auth_helpers.device_nonce(db.session.get(User, the_user(app).id)) is not None


def test_the_close_form_posted_without_its_button_does_nothing(app, customer):
    other = other_browser(app)
    response = post_from_profile(customer, END_OTHERS)
    assert response.status_code == 422
    assert "<title>Error: Mis datos" in text(response)
    assert other.get(DATOS).status_code == 200
    assert events(app, "other_sessions_ended") == []


def test_with_htmx_closing_the_sessions_swaps_in_place(app, customer, htmx_headers):
    form = {"csrf_token": hidden(customer.get(DATOS).get_data(as_text=True), "csrf_token"),
            "confirmar": "si"}
    response = customer.post(END_OTHERS, data=form, headers=htmx_headers,
                             follow_redirects=True)
    assert response.status_code == 200
    html = text(response)
    assert html.startswith("<title>Mis datos") and "Cerramos tus sesiones" in html


# --- valid HTML in the states the URL map walk does not reach -------------------------------

def test_the_states_of_mis_datos_are_valid_html(app, customer, tmp_path, monkeypatch):
    from tests.support.nu import Documents, describe

    documents = Documents(tmp_path)

    def add(label, response):
        documents.add(f"{label} ({response.status_code})", response.get_data(as_text=True))

    assert post(customer, PHONE, telefono="867 123 4567").status_code == 303
    assert post(customer, EMAIL, correo=NEW, correo2=NEW).status_code == 303
    add("Mis datos with a pending address and a phone", customer.get(DATOS))
    another_user(app, "otra.persona@ejemplo.mx", username="terceraPersona3", number="99999902")
    taken = post(customer, EMAIL, correo="otra.persona@ejemplo.mx",
                 correo2="otra.persona@ejemplo.mx")
    assert profile.EMAIL_TAKEN in text(taken)
    add("email taken", taken)
    monkeypatch.setitem(app.config, "OV_EMAIL_CHANGE_LIMIT", "1 per hour")
    post(customer, EMAIL, correo="otra.persona@ejemplo.mx", correo2="otra.persona@ejemplo.mx")
    limited = post(customer, EMAIL, correo="otra.persona@ejemplo.mx",
                   correo2="otra.persona@ejemplo.mx")
    assert limited.status_code == 429
    add("too many taken answers", limited)
    go_stale(customer)
    add("email, stale session", customer.get(EMAIL))
    add("email, stale session without the password", post(customer, EMAIL, correo="a@b.mx",
                                                          correo2="c@d.mx"))
    add("phone refused", post(customer, PHONE, telefono="81 1234 abcd"))
    add("password refused", post(customer, PASSWORD_URL, actual="Incorrecta1",
                                 contrasena="corta1", contrasena2="corta2"))
    add("close without its button", post_from_profile(customer, END_OTHERS))
    link = link_in(app, NEW, "confirmar-correo")
    another_user(app, NEW)
    add("confirmation of an address taken meanwhile", customer.get(link))
    for row in outbox(app):
        if row.body_html:
            documents.add(f"mail {row.subject}", row.body_html)
    found = documents.errors()
    assert not found, describe(found)
