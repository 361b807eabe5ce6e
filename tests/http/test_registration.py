"""Registration as the seed guide describes it, through HTTP, without JavaScript."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from ov.extensions import db
from ov.models import AuditEvent, OutboxMail, RegistrationDraft, User, UserAccount
from ov.services.captcha import ERROR_TARGET
from tests.support.journeys import PASSWORD, SEED, Registration, hidden, zone_id

pytestmark = pytest.mark.usefixtures("billing")


@pytest.fixture
def reg(app, client):
    return Registration(client, app)


def text(response) -> str:
    return response.get_data(as_text=True)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def field_error(html: str, name: str) -> str:
    match = re.search(
        rf'id="{name}-error"><span class="field-error"><span class="visually-hidden">Error: </span>'
        r"([^<]+)<",
        html,
    )
    assert match, f"no error message at {name}"
    return match.group(1)


# --- step 1 ---------------------------------------------------------------------------------

def test_step1_shows_the_guides_fields_and_notes(client):
    html = text(client.get("/registro/paso-1"))
    assert "Paso 1: Identificación del suministro" in html
    assert "Nuevo Laredo" in html and "Bajío Sur: Celaya, Salamanca, Irapuato, León, Silao" in html
    assert "Bajío Norte: San Luis Potosí, Aguascalientes, Zacatecas" in html
    assert 'name="cuenta"' in html and 'name="factura"' in html
    assert 'value="instructivo"' in html and 'data-dialog="/ayuda/factura?vista=dialogo"' in html
    assert 'name="captcha_token"' in html and 'tabindex="-1"' in html  # builtin check
    # Someone who forgot the username they already have is sent to online recovery.
    assert 'href="/recuperar">recupéralo con tu correo o con tu factura</a>' in html


def test_the_seed_contract_registers_without_javascript(app, reg):
    response = reg.step1()
    assert (response.status_code, response.location) == (303, "/registro/paso-2")
    response = reg.step2()
    assert (response.status_code, response.location) == (303, "/registro/paso-3")
    summary = text(reg.client.get("/registro/paso-3"))
    shown = ("Nuevo Laredo", "8295249", "ZE40389382", "usuPDFactura1", "correo@electronico.es")
    assert all(value in summary for value in shown)
    assert PASSWORD not in summary and "********" in summary
    response = reg.step3()
    assert (response.status_code, response.location) == (303, "/registro/listo")
    done = text(reg.client.get("/registro/listo"))
    assert "usuPDFactura1" in done and 'href="/entrar?usuario=usuPDFactura1"' in done
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        assert user.username == "usuPDFactura1" and user.username_key == "usupdfactura1"
        assert user.password_hash.startswith("$argon2") and PASSWORD not in user.password_hash
        assert user.legal_version_accepted == app.config["OV_LEGAL_VERSION"]
        assert user.legal_accepted_at is not None and user.paperless_bill is True
        link = db.session.scalars(select(UserAccount)).one()
        assert link.user_id == user.id and link.account.number == SEED["account"]
        kinds = set(db.session.scalars(select(AuditEvent.kind)))
        assert "registration_completed" in kinds
        welcome = db.session.scalars(select(OutboxMail)).one()
        assert welcome.to_address == "correo@electronico.es"
        assert "/confirmar-correo/" in welcome.body_text and "usuPDFactura1" in welcome.body_text
        assert welcome.sent_at is not None  # delivered right away through the outbox


def test_no_password_or_hash_ever_reaches_the_cookie(app, reg):
    reg.step1()
    reg.step2()
    cookie = reg.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    # Server-side sessions: the cookie is an opaque id, the data stays on the server.
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", cookie.value)
    with reg.client.session_transaction() as stored:
        data = dict(stored)
    assert set(data) <= {"registro", "csrf_token", "_flashes", "_permanent", "_fresh"}
    assert PASSWORD not in repr(data) and "argon2" not in repr(data)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("40989917-7", "escribe solo 40989917"),
        ("40.989.917", "escribe solo 40989917"),
        ("A8295249", "solo lleva números"),
        ("123456789", "como máximo 8 números"),
        ("", "Escribe el número de cuenta."),
    ],
)
def test_account_number_messages_say_what_to_type(reg, typed, message):
    response = reg.step1(cuenta=typed)
    html = text(response)
    assert response.status_code == 422
    assert message in field_error(html, "cuenta")
    assert "<title>Error: " in html and 'class="error-summary"' in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="cuenta-pista cuenta-error"' in html
    assert f'value="{typed}"' in html  # the answer is kept


def test_spaces_around_the_account_and_lower_case_invoice_are_accepted(reg):
    response = reg.step1(cuenta="  8295249 ", factura="ze40389382")
    assert response.status_code == 303


def test_invoice_length_message_counts_characters(reg):
    html = text(reg.step1(factura="ZE4038938"))
    assert "Escribiste 9 caracteres; el número de factura tiene 10" in field_error(html, "factura")


def generic_part(html: str) -> str:
    return re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)


def test_a_mismatch_gets_one_generic_message_whatever_was_wrong(app, reg):
    wrong_invoice = reg.step1(factura="ZE00000000")
    wrong_account = reg.step1(cuenta="1")
    other_zone = reg.step1(zona=str(zone_id(app, "Monterrey")))
    bodies = [generic_part(text(r)) for r in (wrong_invoice, wrong_account, other_zone)]
    assert [r.status_code for r in (wrong_invoice, wrong_account, other_zone)] == [422] * 3
    assert bodies[0] == bodies[1] == bodies[2]
    assert "no coinciden" in bodies[0]
    with app.app_context():
        assert db.session.scalar(
            select(func.count()).where(AuditEvent.kind == "registration_proof_failed")
        ) == 3


def test_attempts_per_contract_are_limited(app, reg):
    codes = [reg.step1(factura="ZE0000000" + str(i)).status_code for i in range(6)]
    assert codes == [422] * 5 + [429]
    assert reg.step1().status_code == 429  # the right invoice too, while the limit lasts


def test_the_captcha_token_is_single_use_and_the_honeypot_refuses(reg):
    form = reg.step1_form(factura="ZE00000000")
    reg.client.post("/registro/paso-1", data=form)
    replay = reg.client.post("/registro/paso-1", data={**form, "factura": SEED["invoice"]})
    assert replay.status_code == 422 and f'id="{ERROR_TARGET}"' in text(replay)
    trapped = reg.step1(comentarios="http://spam.example")
    assert trapped.status_code == 422
    missing = reg.client.post("/registro/paso-1", data={**reg.step1_form(), "captcha_token": ""})
    assert missing.status_code == 422


def test_steps_cannot_be_skipped(reg):
    assert reg.client.get("/registro/paso-2").location == "/registro/paso-1"
    assert reg.client.get("/registro/paso-3").location == "/registro/paso-1"
    reg.step1()
    assert reg.client.get("/registro/paso-3").location == "/registro/paso-2"
    assert reg.client.get("/registro/listo").location == "/registro/paso-1"


def test_a_forged_draft_id_starts_over(reg):
    with reg.client.session_transaction() as session:
        session["registro"] = "x" * 43
    response = reg.client.get("/registro/paso-2")
    assert response.location == "/registro/paso-1"
    assert "caducó" in text(reg.client.get("/registro/paso-1"))


def test_an_expired_draft_starts_over_and_is_removed(app, reg):
    reg.step1()
    with app.app_context():
        draft = db.session.scalars(select(RegistrationDraft)).one()
        from datetime import timedelta

        draft.expires_at = draft.expires_at - timedelta(hours=1)
        db.session.commit()
    assert reg.client.get("/registro/paso-2").location == "/registro/paso-1"
    assert count(app, RegistrationDraft) == 0


# --- step 2 ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"usuario": "abc"}, "usuario", "entre 6 y 25"),
        ({"usuario": "usuario-1"}, "usuario", "solo puede llevar letras"),
        ({"usuario": "usuario1\n"}, "usuario", None),
        ({"contrasena": "abc", "contrasena2": "abc"}, "contrasena", "entre 8 y 12"),
        ({"contrasena": "password12", "contrasena2": "password12"}, "contrasena", None),
        ({"contrasena2": "Tq7mZ2pLx8"}, "contrasena2", "no coinciden"),
        ({"correo": "correo@"}, "correo", "correo electrónico válido"),
        ({"correo2": "otro@electronico.es"}, "correo2", "no coinciden"),
        ({"contrasena": "usuPDFactura1", "contrasena2": "usuPDFactura1"}, "contrasena", None),
    ],
)
def test_step2_rules(reg, answers, field, message):
    reg.step1()
    response = reg.step2(**answers)
    html = text(response)
    if answers.get("usuario") == "usuario1\n":
        # a trailing newline is trimmed, like any white space around a value
        assert response.status_code == 303
        return
    assert response.status_code == 422
    error = field_error(html, field)
    if message:
        assert message in error
    assert PASSWORD not in html  # passwords are never sent back


def test_usernames_are_unique_whatever_the_letter_case(reg, app, client):
    reg.complete()
    other = Registration(app.test_client(), app)
    with app.app_context():  # free the contract so the second person can reach step 2
        db.session.execute(UserAccount.__table__.delete())
        db.session.commit()
    other.step1()
    html = text(other.step2(usuario="USUPDFACTURA1"))
    assert "Ese usuario ya existe" in field_error(html, "usuario")


def test_emails_compare_after_normalising(reg):
    reg.step1()
    assert reg.step2(correo2="correo@ELECTRONICO.ES").status_code == 303


def test_back_keeps_the_answers_but_never_the_password(reg):
    reg.step1()
    step1 = text(reg.client.get("/registro/paso-1"))
    assert 'value="8295249"' in step1 and 'value="ZE40389382"' in step1
    reg.step2()
    step2 = text(reg.client.get("/registro/paso-2"))
    assert 'value="usuPDFactura1"' in step2 and 'value="correo@electronico.es"' in step2
    assert PASSWORD not in step2 and "Déjala en blanco para conservarla" in step2
    # Leaving the password empty keeps the one already chosen.
    assert reg.step2(contrasena="", contrasena2="").status_code == 303


def test_changing_step1_from_the_summary_comes_back_to_the_summary(reg):
    reg.step1()
    reg.step2()
    response = reg.step1()
    assert response.location == "/registro/paso-3"


# --- step 3 ---------------------------------------------------------------------------------

def test_the_legal_notice_must_be_accepted(app, reg):
    reg.step1()
    reg.step2()
    response = reg.step3(acepto="")
    assert response.status_code == 422
    assert "Aviso legal" in field_error(text(response), "acepto")
    assert count(app, User) == 0


def test_a_double_submit_creates_one_user(app, reg):
    reg.step1()
    reg.step2()
    token = reg.token("/registro/paso-3")
    first = reg.client.post("/registro/paso-3", data={"csrf_token": token, "acepto": "y"})
    second = reg.client.post("/registro/paso-3", data={"csrf_token": token, "acepto": "y"})
    assert first.location == second.location == "/registro/listo"
    assert count(app, User) == 1


def test_two_people_registering_one_contract_at_once(app):
    people = [Registration(app.test_client(), app) for _ in range(2)]
    for number, person in enumerate(people):
        person.step1()
        person.step2(usuario=f"persona{number}x", correo=f"p{number}@ejemplo.mx",
                     correo2=f"p{number}@ejemplo.mx")
    forms = [{"csrf_token": p.token("/registro/paso-3"), "acepto": "y"} for p in people]
    results: list = [None, None]
    start = threading.Barrier(2)

    def submit(index: int) -> None:
        start.wait()
        results[index] = people[index].client.post("/registro/paso-3", data=forms[index])

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    codes = sorted(r.status_code for r in results)
    assert codes == [303, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert "ya está registrado" in text(loser)
    assert count(app, User) == 1 and count(app, UserAccount) == 1


def test_an_already_registered_contract_is_said_after_the_proof(app, reg):
    reg.complete()
    other = Registration(app.test_client(), app)
    response = other.step1()
    html = text(response)
    assert response.status_code == 409
    assert "c*****@e**********.es" in html and "correo@electronico.es" not in html
    assert 'href="/recuperar"' in html
    with app.app_context():
        mails = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        assert mails[-1].to_address == "correo@electronico.es"
        assert "intent" in mails[-1].subject.lower()
    # A wrong invoice for the same contract still gets only the generic message.
    assert "ya está registrado" not in text(other.step1(factura="ZE00000000"))


# --- htmx -----------------------------------------------------------------------------------

def test_htmx_gets_fragments_and_the_url_follows(reg, htmx_headers):
    response = reg.client.get("/registro/paso-1", headers=htmx_headers)
    assert response.headers["HX-Push-Url"] == "/registro/paso-1"
    assert text(response).startswith("<title>") and "<html" not in text(response)
    response = reg.step1(headers=htmx_headers)
    assert response.status_code == 303  # fetch follows it, keeping the htmx headers
    step2 = reg.client.get(response.location, headers=htmx_headers)
    assert step2.headers["HX-Push-Url"] == "/registro/paso-2"
    assert "Paso 2: Datos de acceso y contacto" in text(step2)
    invalid = reg.step2(headers=htmx_headers, usuario="ab")
    assert invalid.status_code == 422 and "HX-Push-Url" not in invalid.headers
    assert text(invalid).startswith("<title>Error: ")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("cuenta", "40989917-7", "escribe solo 40989917"),
        ("cuenta", "8295249", None),
        ("factura", "ab", "Escribiste 2 caracteres"),
        ("usuario", "usu", "entre 6 y 25"),
        ("correo", "nada", "correo electrónico válido"),
    ],
)
def test_inline_validation_returns_only_the_field(reg, htmx_headers, field, value, expected):
    token = reg.token("/registro/paso-1")
    response = reg.client.post(
        f"/registro/validar/{field}", data={"csrf_token": token, field: value},
        headers={**htmx_headers, "Accept-Encoding": "br"},
    )
    assert response.status_code == 200
    assert len(response.get_data()) <= 2048
    from tests.support.weight import decoded_text

    html = decoded_text(response)
    assert html.lstrip().startswith('<div class="field') and f'id="campo-{field}"' in html
    if expected:
        assert expected in html
    else:
        assert "field-error" not in html


def test_inline_validation_of_a_password_never_sends_it_back(reg, htmx_headers):
    token = reg.token("/registro/paso-1")
    response = reg.client.post(
        "/registro/validar/contrasena",
        data={"csrf_token": token, "contrasena": "abc12", "usuario": "usuPDFactura1"},
        headers=htmx_headers,
    )
    html = text(response)
    assert html.startswith('<span class="field-error">') and "entre 8 y 12" in html
    assert "abc12" not in html and "<input" not in html
    again = reg.client.post(
        "/registro/validar/contrasena2",
        data={"csrf_token": token, "contrasena": PASSWORD, "contrasena2": PASSWORD + "x"},
        headers=htmx_headers,
    )
    assert "no coinciden" in text(again) and PASSWORD not in text(again)


def test_inline_validation_never_says_required_before_submit(reg, htmx_headers):
    token = reg.token("/registro/paso-1")
    for field in ("cuenta", "usuario", "contrasena"):
        html = text(reg.client.post(f"/registro/validar/{field}",
                                    data={"csrf_token": token, field: ""}, headers=htmx_headers))
        assert "field-error" not in html


def test_inline_validation_checks_availability_once_a_bill_is_proved(app, reg, htmx_headers):
    reg.complete()
    other = Registration(app.test_client(), app)

    def ask() -> str:
        token = other.token("/registro/paso-1")
        return text(other.client.post("/registro/validar/usuario",
                                      data={"csrf_token": token, "usuario": "USUPDFACTURA1"},
                                      headers=htmx_headers))

    # Without a proved bill nobody learns which usernames exist.
    assert "Ese usuario ya existe" not in ask()
    with app.app_context():  # free the contract so the second person can prove it
        db.session.execute(UserAccount.__table__.delete())
        db.session.commit()
    assert other.step1().status_code == 303
    assert "Ese usuario ya existe" in ask()


def test_an_inline_check_racing_a_submission_does_not_undo_it(app, reg, htmx_headers,
                                                              monkeypatch):
    """The browser checks the invoice field when it loses focus, i.e. as "Siguiente" is
    pressed: the check may read the session before step 1 saves the draft and end after it.
    Held up exactly there, it must not write its stale copy over the draft."""
    from ov.blueprints import registration as views

    form = reg.step1_form()
    checking, submitted = threading.Event(), threading.Event()
    real_form = views.Step1Form

    def held_up(*args, **kwargs):  # runs after the check's session was read
        checking.set()
        assert submitted.wait(10)
        return real_form(*args, **kwargs)

    monkeypatch.setattr(views, "Step1Form", held_up)
    checker = app.test_client()
    for name in ("ov", "ov_csrf"):  # the same browser: whichever of them it holds
        cookie = reg.client.get_cookie(name)
        if cookie is not None:
            checker.set_cookie(name, cookie.value)
    answers = []
    thread = threading.Thread(target=lambda: answers.append(checker.post(
        "/registro/validar/factura", data={"csrf_token": form["csrf_token"],
                                           "factura": SEED["invoice"]},
        headers=htmx_headers)))
    thread.start()
    assert checking.wait(10)
    monkeypatch.setattr(views, "Step1Form", real_form)
    assert reg.client.post("/registro/paso-1", data=form).status_code == 303
    submitted.set()
    thread.join(10)
    assert answers[0].status_code == 200
    assert "Set-Cookie" not in answers[0].headers
    assert reg.client.get("/registro/paso-2").status_code == 200


def test_a_posted_false_is_not_an_acceptance(app, reg):
    reg.step1()
    reg.step2()
    response = reg.step3(acepto="false")
    assert response.status_code == 422
    assert count(app, User) == 0


@pytest.mark.parametrize(
    "spell",
    [lambda z: f"0{z}", lambda z: f"+{z}", lambda z: f" {z}", lambda z: f"{z}.0",
     lambda z: "".join(chr(0x0660 + int(d)) for d in z)],
    ids=["leading-zero", "plus", "space", "decimal", "arabic-indic"],
)
def test_a_zone_has_one_spelling(app, reg, spell):
    """Other spellings of the right zone id are refused, so the per-contract attempt limit
    cannot be dodged by writing the zone differently."""
    response = reg.step1(zona=spell(str(zone_id(app))))
    assert response.status_code == 422
    assert "Elige la zona" in field_error(text(response), "zona")


def test_head_requests_answer_like_get(reg):
    assert reg.client.head("/registro/paso-1").status_code == 200
    reg.step1()
    assert reg.client.head("/registro/paso-2").status_code == 200


def test_registration_pages_are_never_stored(reg):
    assert reg.client.get("/registro/paso-1").headers["Cache-Control"] == "no-store"
    reg.step1()
    assert reg.client.get("/registro/paso-2").headers["Cache-Control"] == "no-store"


def test_too_many_inline_checks_leave_the_field_as_it_is(app, reg, htmx_headers,
                                                         monkeypatch):
    """A 429 must not replace the form with the error page: the field stays as typed and the
    step checks it when sent."""
    monkeypatch.setitem(app.config, "OV_INLINE_VALIDATION_LIMIT", "2 per minute")
    token = reg.token("/registro/paso-1")
    answers = [reg.client.post("/registro/validar/cuenta", data={"csrf_token": token,
                               "cuenta": "8295249"}, headers=htmx_headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["HX-Reswap"] == "none" and "HX-Retarget" not in answers[2].headers
    assert answers[2].headers["Retry-After"] == "60" and answers[2].get_data() == b""
    assert reg.step1().status_code == 303  # the step itself is not held back


def test_unknown_inline_field_is_404(reg, htmx_headers):
    token = reg.token("/registro/paso-1")
    response = reg.client.post("/registro/validar/zona_secreta", data={"csrf_token": token},
                               headers=htmx_headers)
    assert response.status_code == 404


# --- the "Instructivo" ----------------------------------------------------------------------

def test_the_invoice_help_without_javascript_keeps_step1_answers(reg):
    form = reg.step1_form(cuenta="8295249", factura="ZE403")
    response = reg.client.post("/registro/paso-1", data={**form, "accion": "instructivo"})
    assert response.location == "/ayuda/factura?desde=registro"
    page = text(reg.client.get(response.location))
    assert "Cuenta" in page and "Control" in page and 'href="/registro/paso-1"' in page
    back = text(reg.client.get("/registro/paso-1"))
    assert 'value="8295249"' in back and 'value="ZE403"' in back


def test_the_invoice_help_as_a_dialog_fragment(client, htmx_headers):
    response = client.get("/ayuda/factura?vista=dialogo", headers=htmx_headers)
    html = text(response)
    assert html.lstrip().startswith("<dialog") and 'method="dialog"' in html
    image = client.get(re.search(r'src="([^"]+\.svg[^"]*)"', html).group(1))
    assert image.status_code == 200 and len(image.get_data()) <= 30 * 1024


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "answers",
    [
        {"cuenta": "8" * 5000},
        {"factura": "ZE4038\x009382"},
        {"zona": "no-es-un-numero"},
        {"zona": "99999"},
        {"cuenta": "829\u202e5249"},
    ],
)
def test_bad_input_is_a_422_never_a_500(app, reg, answers):
    response = reg.step1(**answers)
    assert response.status_code in (413, 422)
    assert count(app, RegistrationDraft) == 0


def test_missing_fields_and_wrong_methods(reg):
    token = hidden(text(reg.client.get("/registro/paso-1")), "csrf_token")
    response = reg.client.post("/registro/paso-1", data={"csrf_token": token})
    assert response.status_code == 422
    assert reg.client.put("/registro/paso-1").status_code == 405
