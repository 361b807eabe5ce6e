"""Mis derechos ARCO through HTTP: the download, rectification and opposition requests, and
cancelling the user (blocked at once, its contract free to register again)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import PrivacyRequest, User, UserAccount, utcnow
from ov.services import privacy
from tests.support.journeys import PASSWORD, Registration, hidden, sign_in
from tests.support.queries import counting_queries
from tests.support.rows import events, outbox

pytestmark = pytest.mark.usefixtures("billing")

DATOS = "/mi-oficina/datos"
RECTIFY = "/mi-oficina/datos/derechos/rectificacion"
OPPOSE = "/mi-oficina/datos/derechos/oposicion"
CANCEL = "/mi-oficina/datos/cancelar"
DOWNLOAD = "/mi-oficina/datos/mis-datos.json"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def customer(app, client):
    """The seed's customer, registered and signed in."""
    assert Registration(client, app).complete().status_code == 303
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return client


def post(client, url: str, headers=None, **answers):
    form = {"csrf_token": hidden(text(client.get(url)), "csrf_token"), **answers}
    return client.post(url, data=form, headers=headers or {})


def the_user(app, username: str = "usuPDFactura1") -> User:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == username)).one()
        db.session.expunge(user)
        return user


# --- the ARCO section ---------------------------------------------------------------------

def test_mis_datos_has_the_arco_section_with_every_right(customer):
    html = text(customer.get(DATOS))
    assert '<h2 id="derechos-arco">Mis derechos ARCO</h2>' in html
    for url in ("/mi-oficina/datos/mis-datos", RECTIFY, OPPOSE, CANCEL):
        assert f'href="{url}"' in html
    assert "Aún no has presentado solicitudes" in html


def test_the_aviso_de_privacidad_links_to_the_arco_section(app, client):
    signed_out = text(client.get("/aviso-de-privacidad"))
    assert 'href="/entrar?next=/mi-oficina/datos%23derechos-arco"' in signed_out
    assert Registration(client, app).complete().status_code == 303
    assert sign_in(client, "usuPDFactura1").status_code == 303
    assert 'href="/mi-oficina/datos#derechos-arco"' in text(client.get("/aviso-de-privacidad"))
    # Signing in from the link lands on the section.
    assert client.get("/entrar?next=/mi-oficina/datos%23derechos-arco").location == (
        "/mi-oficina/datos#derechos-arco")


# --- access ---------------------------------------------------------------------------------

def test_the_summary_page_counts_what_the_file_holds(customer):
    response = customer.get("/mi-oficina/datos/mis-datos")
    assert response.status_code == 200
    html = text(response)
    assert "1 contrato vinculado" in html
    assert f'href="{DOWNLOAD}"' in html
    assert "la guardamos cifrada" in html


def test_the_download_is_a_private_dated_json_attachment(app, customer):
    response = customer.get(DOWNLOAD)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    today = privacy.local_day(utcnow()).isoformat()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="mis-datos-oficina-virtual-{today}.json"')
    data = json.loads(response.get_data())
    assert data["usuario"]["usuario"] == "usuPDFactura1"
    assert data["usuario"]["correo_electronico"] == "correo@electronico.es"
    assert data["usuario"]["contrasena"].startswith("Guardada cifrada")
    with app.app_context():
        stored = db.session.scalars(select(User.password_hash)).one()
    assert stored not in text(response)
    assert [c["zona"] for c in data["contratos"]] == ["Nuevo Laredo"]
    assert data["contratos"][0]["numero_de_cuenta"].startswith("8295249-")
    assert {"login_succeeded"} <= {e["tipo"] for e in data["eventos_de_seguridad"]}
    [event] = events(app, "personal_data_downloaded")
    assert event.user_id == the_user(app).id


def test_the_download_takes_the_same_queries_with_a_longer_history(app, customer):
    with counting_queries(app) as short:
        assert customer.get(DOWNLOAD).status_code == 200
    for n in range(6):
        assert post(customer, OPPOSE, finalidad="encuestas", motivo=f"n{n}").status_code == 303
        customer.get(DATOS)
    with counting_queries(app) as long:
        data = json.loads(customer.get(DOWNLOAD).get_data())
    assert len(data["solicitudes_arco"]) == 6
    assert len(long) == len(short)


# --- rectification and opposition ---------------------------------------------------------

def test_a_rectification_gets_a_folio_dates_and_a_mail(app, customer):
    response = post(customer, RECTIFY, dato="titular",
                    detalle="El nombre dice Granado y es Granados.")
    assert response.status_code == 303
    with app.app_context():
        row = db.session.scalars(select(PrivacyRequest)).one()
        folio, row_id = row.folio, row.id
        assert row.kind == "rectificacion"
        assert row.body == ("Dato: Nombre de la persona titular del contrato\n\n"
                            "El nombre dice Granado y es Granados.")
        due = row.answer_due_on.strftime("%d/%m/%Y")
    assert re.fullmatch(r"ARCO-\d{4}-\d{6}", folio)
    assert response.location == f"/mi-oficina/datos/derechos/{row_id}"
    page = text(customer.get(response.location))
    assert f"Registramos tu solicitud con el folio {folio}" in page
    assert due in page and "Granados." in page
    [sent] = [m for m in outbox(app) if folio in m.subject
              and m.to_address != app.config["OV_PRIVACY_EMAIL"]]
    assert sent.to_address == "correo@electronico.es" and due in sent.body_text
    listed = text(customer.get(DATOS))
    assert folio in listed and "Rectificación" in listed
    assert [e.details["folio"] for e in events(app, "privacy_request_filed")] == [folio]


def test_an_opposition_offers_the_avisos_purposes(app, customer):
    html = text(customer.get(OPPOSE))
    assert 'value="promociones"' in html and "encuestas de satisfacción" in html
    response = post(customer, OPPOSE, finalidad="promociones", motivo="")
    assert response.status_code == 303
    with app.app_context():
        body = db.session.scalars(select(PrivacyRequest.body)).one()
    assert body.startswith("Finalidad: Enviarte promociones")


@pytest.mark.parametrize(("url", "answers", "messages"), [
    (RECTIFY, {}, ["Elige qué dato hay que corregir.", "Escribe qué está mal"]),
    (RECTIFY, {"dato": "nada", "detalle": "x" * 1001},
     ["Elige qué dato hay que corregir.", "Puede tener hasta 1000 caracteres"]),
    (OPPOSE, {"finalidad": "otra", "motivo": "  "},
     ["Describe la finalidad a la que te opones."]),
    (OPPOSE, {"finalidad": "", "motivo": "Mi motivo"},
     ["Elige la finalidad a la que te opones."]),
])
def test_bad_requests_get_422_with_the_answers_kept(app, customer, url, answers, messages):
    response = post(customer, url, **answers)
    assert response.status_code == 422
    html = text(response)
    assert "<title>Error: " in html and 'aria-invalid="true"' in html
    for message in messages:
        assert message in html
    if answers.get("motivo", "").strip():
        assert answers["motivo"] in html
    with app.app_context():
        assert db.session.scalars(select(PrivacyRequest)).all() == []


def test_with_htmx_a_bad_request_answers_in_place(customer, htmx_headers):
    response = post(customer, RECTIFY, headers=htmx_headers, dato="correo", detalle="")
    assert response.status_code == 422
    html = text(response)
    assert html.startswith("<title>Error: Corregir mis datos") and "<html" not in html
    assert re.search(r'<option (selected )?value="correo"( selected)?>', html).group(1 if
        '<option selected' in html else 2)


def test_another_users_request_answers_404(app, customer):
    with app.app_context():
        from tests.support.factories import make_customer

        stranger, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                    number="5550001")
        theirs = privacy.file_request(stranger, privacy.PrivacyRight.OPPOSITION, "x",
                                      client_address=None).request
        db.session.commit()
        their_id = theirs.id
    assert customer.get(f"/mi-oficina/datos/derechos/{their_id}").status_code == 404
    assert customer.get("/mi-oficina/datos/derechos/999999").status_code == 404
    assert [e.details["record_id"] for e in events(app, "access_denied")] == [their_id, 999999]


def test_a_form_without_csrf_is_refused(app, customer):
    response = customer.post(RECTIFY, data={"dato": "correo", "detalle": "x"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(PrivacyRequest)).all() == []


# --- cancellation ---------------------------------------------------------------------------

def test_the_cancel_page_says_plainly_what_happens(customer):
    html = text(customer.get(CANCEL))
    for words in ("Se bloquea al momento", "Se elimina en 30 días", "siguen en nuestros registros",
                  "registrarlos de nuevo", "800 000 2424", 'name="contrasena"'):
        assert words in html


@pytest.mark.parametrize("password", ["", "Otra1234x"])
def test_an_empty_or_wrong_password_cancels_nothing(app, customer, password):
    response = post(customer, CANCEL, contrasena=password)
    assert response.status_code == 422
    html = text(response)
    assert "<title>Error: Cancelar mi usuario" in html
    assert ("Escribe tu contraseña actual." if not password
            else "La contraseña no es correcta.") in html
    user = the_user(app)
    assert user.blocked_at is None
    assert customer.get(DATOS).status_code == 200
    assert events(app, "user_cancelled") == []


def cancel(client):
    return post(client, CANCEL, contrasena=PASSWORD)


def test_cancelling_blocks_at_once_and_ends_every_session(app, customer):
    elsewhere = app.test_client()
    assert sign_in(elsewhere, "usuPDFactura1").status_code == 303
    response = cancel(customer)
    assert response.status_code == 303 and response.location == "/usuario-cancelado"
    done = customer.get(response.location)
    assert done.status_code == 200
    html = text(done)
    user = the_user(app)
    with app.app_context():
        folio = db.session.scalars(select(PrivacyRequest.folio).where(
            PrivacyRequest.kind == "cancelacion")).one()
    assert "Cancelaste tu usuario" in html and folio in html
    assert user.blocked_at is not None
    assert user.delete_after - user.blocked_at == timedelta(days=30)
    assert customer.get(DATOS).status_code == 302  # this session is over
    assert elsewhere.get(DATOS).status_code == 302  # and so is the other one
    [sent] = [m for m in outbox(app) if m.subject == "Cancelaste tu usuario de la Oficina Virtual"]
    assert folio in sent.body_text
    with app.app_context():
        assert db.session.scalars(select(UserAccount)).all() == []


def test_with_htmx_cancelling_loads_the_done_page(customer, htmx_headers):
    response = post(customer, CANCEL, headers=htmx_headers, contrasena=PASSWORD)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/usuario-cancelado"


def test_a_cancelled_user_cannot_sign_in_nor_recover_but_the_contract_registers_again(
        app, customer):
    assert cancel(customer).status_code == 303
    refused = sign_in(app.test_client(), "usuPDFactura1")
    wrong = sign_in(app.test_client(), "usuPDFactura1", "Otra1234x")
    assert refused.status_code == wrong.status_code == 422
    message = "Usuario o contraseña incorrectos"
    assert (message in text(refused)) == (message in text(wrong))
    assert [e.details["reason"] for e in events(app, "login_failed")][-2] == "blocked"
    assert the_user(app).failed_logins == 0
    # Recovery by email sends nothing to it.
    recover = app.test_client()
    page = text(recover.get("/recuperar"))
    before = len(outbox(app))
    recover.post("/recuperar", data={"csrf_token": hidden(page, "csrf_token"),
                                     "correo": "correo@electronico.es"})
    assert len(outbox(app)) == before
    # Recovery by bill finds no user for the contract.
    from tests.http.test_recovery_by_bill import prove_bill

    by_bill = prove_bill(app, app.test_client())
    assert by_bill.status_code == 404 and "usuPDFactura1" not in text(by_bill)
    # The contract registers again (registration step 1), under another username.
    again = Registration(app.test_client(), app)
    assert again.step1().status_code == 303
    taken = again.step2()
    assert taken.status_code == 422  # the old username stays taken until deleted
    assert "Ese usuario ya existe. Elige otro." in text(taken)
    assert again.step2(usuario="nuevoUsuario1").status_code == 303
    assert again.step3().status_code == 303
    assert sign_in(app.test_client(), "nuevoUsuario1").status_code == 303
    assert sign_in(app.test_client(), "usuPDFactura1").status_code == 422


def test_the_done_page_without_a_cancellation_goes_home(client):
    response = client.get("/usuario-cancelado")
    assert response.status_code == 302 and response.location == "/"


def test_purge_after_the_blocking_period(app, customer):
    assert cancel(customer).status_code == 303
    user_id = the_user(app).id
    with app.app_context():
        assert privacy.purge_cancelled() == 0
        assert privacy.purge_cancelled(now=utcnow() + timedelta(days=31)) == 1
        db.session.commit()
        assert db.session.get(User, user_id) is None
        row = db.session.scalars(select(PrivacyRequest)).one()
        assert row.user_id is None and row.kind == "cancelacion"


def test_dates_shown_count_from_the_day_in_mexico_city(app, customer, monkeypatch):
    from datetime import UTC, datetime

    # 01/12/2026 05:30 in UTC is still 30/11/2026 in Mexico City.
    monkeypatch.setattr(privacy, "utcnow", lambda: datetime(2026, 12, 1, 5, 30, tzinfo=UTC))
    response = post(customer, OPPOSE, finalidad="encuestas", motivo="")
    html = text(customer.get(response.location))
    assert "30/11/2026 23:30" in html  # filed, in local time
    assert "20/12/2026" in html and "04/01/2027" in html
    assert "ARCO-2026-" in html


def test_the_pages_after_a_request_and_a_cancellation_are_valid_html(app, customer, tmp_path):
    from tests.support.nu import Documents, describe

    documents = Documents(tmp_path)
    filed = post(customer, RECTIFY, dato="otro", detalle="Línea uno\nLínea dos\n\nOtra")
    documents.add("a privacy request", text(customer.get(filed.location)))
    documents.add("Mis datos with a request", text(customer.get(DATOS)))
    documents.add("cancel, wrong password", text(post(customer, CANCEL, contrasena="Otra1234x")))
    done = cancel(customer)
    documents.add("cancelled", text(customer.get(done.location)))
    for row in outbox(app):
        if "ARCO" in row.body_text or "Cancelaste" in row.subject:
            documents.add(f"mail {row.subject}", row.body_html)
    found = documents.errors()
    assert not found, describe(found)


def test_filing_is_limited_per_user_and_day(app, customer):
    for n in range(privacy.DAILY_REQUESTS):
        url = OPPOSE if n % 2 else RECTIFY
        answers = {"finalidad": "encuestas"} if n % 2 else {"dato": "otro", "detalle": f"n{n}"}
        assert post(customer, url, **answers).status_code == 303
    refused = post(customer, RECTIFY, dato="otro", detalle="x")
    assert refused.status_code == 429 and "Demasiados intentos" in text(refused)
    with app.app_context():
        assert len(db.session.scalars(select(PrivacyRequest)).all()) == privacy.DAILY_REQUESTS
