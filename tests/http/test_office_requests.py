"""Mis solicitudes y reclamos through HTTP: the list, the new request or claim (prefilled from
an invoice, refused with kept answers, CSRF), a gas leak answered with the emergency notice,
the request's page with its timeline and comments, other customers' ids (demo neighbours
too), "en aclaración" on the invoice, and constant query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import (
    Account,
    AuditEvent,
    Invoice,
    Photo,
    ServiceRequest,
    ServiceRequestEvent,
    User,
    UserAccount,
    utcnow,
)
from ov.services import demo_data, passwords, photos
from ov.services import service_requests as service
from tests.http.test_office import customer, second_contract
from tests.support.journeys import PASSWORD, hidden, sign_in
from tests.support.queries import counting_queries

pytestmark = pytest.mark.usefixtures("clean_db")

LIST = "/mi-oficina/solicitudes"
NEW = "/mi-oficina/solicitudes/nueva"
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial", "HX-Target": "main#contenido"}


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def seed_customer(app):
    return customer(app)


@pytest.fixture
def signed_in(app, client, seed_customer):
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return client


def token(client, url: str = NEW) -> str:
    return hidden(text(client.get(url)), "csrf_token")


def answers(seed_customer, **changes) -> dict:
    form = {"tipo": "bill_clarification", "contrato": str(seed_customer["account_id"]),
            "factura": str(seed_customer["invoice_ids"][-1]),
            "descripcion": "Me cobraron dos veces el cargo fijo este mes."}
    form.update(changes)
    return form


def post_new(client, form: dict, headers=None):
    return client.post(NEW, data={"csrf_token": token(client), **form}, headers=headers or {})


def requests_in_db(app) -> list[ServiceRequest]:
    with app.app_context():
        rows = list(db.session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def file_one(app, seed_customer, category="other", **extra) -> ServiceRequest:
    with app.app_context():
        made = service.file_request(seed_customer["user_id"], seed_customer["account_id"],
                                    category, "Necesito que revisen mi servicio.", **extra)
        db.session.commit()
        db.session.refresh(made)
        db.session.expunge(made)
        return made


def set_status(app, folio: str, status: str, note: str = "") -> None:
    with app.app_context():
        service.set_status(folio, status, note)
        db.session.commit()


# --- the list ----------------------------------------------------------------------------------

def test_the_list_shows_each_request_newest_first_with_its_folio_status_and_date(
        app, signed_in, seed_customer):
    assert "Aún no tienes solicitudes ni reclamos" in text(signed_in.get(LIST))
    older = file_one(app, seed_customer, "tax_data",
                     now=utcnow() - timedelta(days=3))
    newer = file_one(app, seed_customer, "meter_review")
    set_status(app, older.folio, "en-proceso")
    html = text(signed_in.get(LIST))
    assert html.index(newer.folio) < html.index(older.folio)
    row = html[html.index(f'id="solicitud-{older.id}"'):]
    row = row[:row.index("</tr>")]
    assert f'href="/mi-oficina/solicitudes/{older.id}"' in row
    assert "Solicitud: Datos fiscales para mi CFDI" in row
    assert "8295249-7" in row and "En proceso" in row
    assert older.answer_due_on.strftime("%d/%m/%Y") in row
    assert "Reclamo: Revisión de medidor" in html and "Recibida" in html
    assert 'href="/mi-oficina/solicitudes/nueva"' in html


def test_the_list_and_the_form_need_a_signed_in_customer(client):
    for url in (LIST, NEW, f"{LIST}/1"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/entrar")


# --- the new request or claim ------------------------------------------------------------------

def test_the_form_offers_every_type_the_users_contracts_and_their_last_invoices(
        app, signed_in, seed_customer):
    html = text(signed_in.get(NEW))
    for label in ("Aclaración de factura", "Revisión de lectura", "Revisión de medidor",
                  "Cambio de titular", "Baja del servicio", "Factura en formato accesible",
                  "Datos fiscales para mi CFDI", "Otro", "Fuga de gas u olor a gas"):
        assert f">{label}</label>" in html, label
    assert html.index("Fuga de gas u olor a gas") < html.index("Aclaración de factura")
    assert 'href="/mi-oficina/datos/preferencias"' in html  # the accessible bill's way
    assert f'<option value="{seed_customer["account_id"]}" selected>' in html  # the only one
    assert '<option value="">Ninguna</option>' in html
    offered = re.findall(r'<option value="(\d+)"', html[html.index('id="factura"'):])
    assert offered == [str(i) for i in reversed(seed_customer["invoice_ids"])]
    assert 'name="no_es_fuga"' not in html  # only once a leak was told


def test_the_form_offers_only_the_last_12_invoices_of_each_contract(app, client):
    made = customer(app, invoices=20)
    assert sign_in(client, "usuPDFactura1").status_code == 303
    html = text(client.get(NEW))
    offered = re.findall(r'<option value="(\d+)"', html[html.index('id="factura"'):])
    assert offered == [str(i) for i in reversed(made["invoice_ids"][-12:])]


def test_a_claim_from_an_invoice_arrives_prefilled(app, signed_in, seed_customer):
    oldest = seed_customer["invoice_ids"][0]
    html = text(signed_in.get(f"{NEW}?factura={oldest}"))
    assert 'value="bill_clarification" checked' in html
    assert f'<option value="{seed_customer["account_id"]}" selected>' in html
    assert f'<option value="{oldest}" selected>' in html


def test_a_claim_from_another_customers_invoice_is_404(app, signed_in):
    other = customer(app, username="otraPersona2", number="5550001")
    assert signed_in.get(f"{NEW}?factura={other['invoice_ids'][0]}").status_code == 404
    assert signed_in.get(f"{NEW}?factura=abc").status_code == 404


def test_filing_a_claim_answers_303_to_its_page_with_the_folio_and_the_answer_date(
        app, signed_in, seed_customer):
    response = post_new(signed_in, answers(seed_customer))
    assert response.status_code == 303
    [made] = requests_in_db(app)
    assert response.location == f"/mi-oficina/solicitudes/{made.id}"
    assert (made.user_id, made.account_id, made.invoice_id, made.kind, made.category) == (
        seed_customer["user_id"], seed_customer["account_id"], seed_customer["invoice_ids"][-1],
        "claim", "bill_clarification")
    assert made.body == "Me cobraron dos veces el cargo fijo este mes."
    html = text(signed_in.get(response.location))
    due = made.answer_due_on.strftime("%d/%m/%Y")
    assert (f"Recibimos tu reclamo. Tu folio es {made.folio}; te responderemos a más tardar "
            f"el {due}.") in html
    assert f"<strong>{made.folio}</strong>" in html


def test_a_request_is_filed_without_an_invoice_and_told_as_a_request(app, signed_in,
                                                                      seed_customer):
    response = post_new(signed_in, answers(seed_customer, tipo="change_of_holder", factura="",
                                           descripcion="Compré la casa y quiero el contrato."))
    assert response.status_code == 303
    [made] = requests_in_db(app)
    assert (made.kind, made.invoice_id) == ("request", None)
    assert "Recibimos tu solicitud." in text(signed_in.get(response.location))


def test_with_htmx_the_panel_swaps_to_the_new_request(app, signed_in, seed_customer):
    response = post_new(signed_in, answers(seed_customer), headers=PARTIAL)
    assert response.status_code == 303  # fetch follows it with the same headers
    page = signed_in.get(response.location, headers=PARTIAL)
    assert page.status_code == 200 and "<html" not in text(page)
    assert page.headers["HX-Push-Url"] == response.location


@pytest.mark.parametrize(("changes", "target", "message"), [
    ({"tipo": ""}, "tipo-1", "Elige el tipo de solicitud o reclamo."),
    ({"tipo": "cualquiera"}, "tipo-1", "Elige el tipo de solicitud o reclamo."),
    ({"contrato": ""}, "contrato", "Elige uno de tus contratos."),
    ({"factura": ""}, "factura", "Elige la factura que quieres aclarar."),
    ({"factura": "x1"}, "factura", "Elige una de las facturas de la lista, o «Ninguna»."),
    ({"descripcion": "Corto"}, "descripcion",
     "Escribe la descripción con al menos 10 caracteres."),
    ({"descripcion": "x" * 2001}, "descripcion",
     "La descripción tiene 2,001 caracteres; el máximo es 2,000. Acórtala."),
    ({"descripcion": "Un cobro\x1b raro en mi factura"}, "descripcion",
     "La descripción tiene caracteres que no se pueden escribir con el teclado. "
     "Escríbela de nuevo sin ellos."),
])
def test_bad_answers_are_refused_422_with_the_answers_kept(app, signed_in, seed_customer,
                                                           changes, target, message):
    form = answers(seed_customer, **changes)
    response = post_new(signed_in, form)
    assert response.status_code == 422
    html = text(response)
    assert "<title>Error: Nueva solicitud o reclamo" in html
    assert f'<a href="#{target}">{message}</a>' in html
    assert 'aria-invalid="true"' in html
    if form["descripcion"] and "\x1b" not in form["descripcion"]:
        assert f"\n{form['descripcion']}</textarea>" in html
    if form["tipo"] == "bill_clarification":
        assert 'value="bill_clarification" checked' in html
    assert requests_in_db(app) == []


def test_another_customers_invoice_or_contract_is_404_and_audited(app, signed_in, seed_customer):
    other = customer(app, username="otraPersona2", number="5550001")
    theirs = answers(seed_customer, factura=str(other["invoice_ids"][0]))
    assert post_new(signed_in, theirs).status_code == 404
    theirs = answers(seed_customer, contrato=str(other["account_id"]), factura="")
    assert post_new(signed_in, theirs).status_code == 404
    assert signed_in.get(f"{NEW}?contrato={other['account_id']}").status_code == 404
    mine = text(signed_in.get(f"{NEW}?contrato={seed_customer['account_id']}"))
    assert f'<option value="{seed_customer["account_id"]}" selected>' in mine
    with app.app_context():
        denied = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "access_denied").order_by(AuditEvent.id)).all()
        assert [(e.details["record"], e.details["record_id"]) for e in denied] == [
            ("service_request_invoice", other["invoice_ids"][0]),
            ("contract", other["account_id"]), ("contract", other["account_id"])]
    assert requests_in_db(app) == []


def test_an_invoice_of_another_of_the_users_contracts_is_refused(app, signed_in, seed_customer):
    with app.app_context():
        _, second = second_contract(seed_customer, "7770001")
        from tests.support.factories import make_invoices

        [theirs] = make_invoices(second, 1)
        db.session.commit()
        theirs_id, number = theirs.id, theirs.number
    response = post_new(signed_in, answers(seed_customer, factura=str(theirs_id)))
    assert response.status_code == 422
    assert f"La factura {number} es de otro de tus contratos." in text(response)
    assert requests_in_db(app) == []


def test_a_form_without_its_csrf_token_is_refused(app, signed_in, seed_customer):
    response = signed_in.post(NEW, data=answers(seed_customer))
    assert response.status_code == 400
    assert requests_in_db(app) == []


# --- a gas leak is not a form ------------------------------------------------------------------

def emergency_shown(html: str, phone: str = "800 000 4273") -> bool:
    return ('class="callout callout--danger"' in html and f'href="tel:{phone.replace(" ", "")}"'
            in html and "¿Huele a gas? Actúa así" in html)


def test_choosing_a_leak_shows_the_emergency_notice_instead_of_a_form(app, signed_in,
                                                                      seed_customer):
    form_html = text(signed_in.get(NEW))
    assert 'href="/mi-oficina/solicitudes/nueva?tipo=fuga"' in form_html
    html = text(signed_in.get(f"{NEW}?tipo=fuga"))
    assert emergency_shown(html)
    assert "<textarea" not in html and 'name="descripcion"' not in html
    posted = post_new(signed_in, answers(seed_customer, tipo="fuga"))
    assert posted.status_code == 200 and emergency_shown(text(posted))
    assert "<textarea" not in text(posted)
    assert requests_in_db(app) == []


@pytest.mark.parametrize("description", ["Hay una FUGA junto al medidor desde ayer",
                                         "En la cocina huele a gás muy fuerte",
                                         "Sentimos olor a gas en el patio"])
def test_a_description_telling_of_a_leak_is_not_filed(app, signed_in, seed_customer,
                                                      description):
    response = post_new(signed_in, answers(seed_customer, descripcion=description))
    assert response.status_code == 422
    html = text(response)
    assert emergency_shown(html)
    assert f"\n{description}</textarea>" in html  # kept, for a false alarm
    assert 'name="no_es_fuga"' in html and '<a href="#no_es_fuga">' in html
    assert requests_in_db(app) == []


def test_a_false_alarm_is_filed_once_the_customer_says_it_is_no_leak(app, signed_in,
                                                                    seed_customer):
    form = answers(seed_customer, descripcion="La fuga que reportamos ya la repararon; "
                                              "pido que ajusten el cobro.", no_es_fuga="y")
    assert post_new(signed_in, form).status_code == 303
    [made] = requests_in_db(app)
    assert made.body.startswith("La fuga que reportamos")


def test_customer_service_shows_the_same_emergency_notice(client, app):
    html = text(client.get("/atencion-al-cliente"))
    assert emergency_shown(html, app.config["OV_EMERGENCY_PHONE"])
    assert "Mis solicitudes y reclamos" in html and "Nueva solicitud o reclamo" in html


# --- one request's page ------------------------------------------------------------------------

def test_the_request_page_shows_everything_and_each_staff_answer(app, signed_in, seed_customer):
    invoice_id = seed_customer["invoice_ids"][-1]
    made = file_one(app, seed_customer, "bill_clarification", invoice_id=invoice_id)
    set_status(app, made.folio, "en-proceso", "Revisamos tu lectura con el lecturista.")
    with app.app_context():
        service.add_note(made.folio, "Necesitamos una foto de tu medidor.")
        db.session.commit()
        number = db.session.get(Invoice, invoice_id).number
    html = text(signed_in.get(f"{LIST}/{made.id}"))
    assert f"<title>Reclamo {made.folio}" in html
    assert "Reclamo: Aclaración de factura" in html
    assert f'<a href="/mi-oficina/facturas/{invoice_id}">{number}</a>' in html
    assert "En proceso" in html and made.answer_due_on.strftime("%d/%m/%Y") in html
    assert "Necesito que revisen mi servicio." in html
    timeline = html[html.index('id="seguimiento"'):html.index('id="solicitud-comentar"')]
    assert timeline.count('<li class="notice">') == 3
    assert "<strong>Tú</strong>" in timeline and "presentaste el reclamo" in timeline
    assert timeline.count("<strong>Gas Natural del Noreste</strong>") == 2
    assert "Revisamos tu lectura con el lecturista." in timeline
    assert "respondió" in timeline and "Necesitamos una foto de tu medidor." in timeline
    assert f'action="/mi-oficina/solicitudes/{made.id}/comentario"' in html
    assert "<img" not in html


def test_the_photo_sent_with_a_request_is_shown_with_its_alt_text(app, signed_in, seed_customer):
    with app.app_context():
        photo = Photo(user_id=seed_customer["user_id"], account_id=seed_customer["account_id"],
                      stored_name="a" * 32 + ".jpg", byte_size=10, width=4, height=3)
        db.session.add(photo)
        db.session.commit()
        photo_id = photo.id
    made = file_one(app, seed_customer, "meter_review", photo_id=photo_id)
    html = text(signed_in.get(f"{LIST}/{made.id}"))
    assert f'<img src="/mi-oficina/fotos/{photo_id}.jpg" alt="La foto que enviaste con tu ' \
           f'reclamo {made.folio}"' in html


def test_a_status_change_notice_leads_to_the_request_page(app, signed_in, seed_customer):
    made = file_one(app, seed_customer, "other")
    set_status(app, made.folio, "resuelta", "Listo.")
    html = text(signed_in.get("/mi-oficina/avisos"))
    assert f"Tu solicitud {made.folio} está resuelta" in html
    assert "Gas Natural del Noreste te responde: Listo." in html


def comment(client, request_id: int, note: str, headers=None):
    url = f"{LIST}/{request_id}"
    return client.post(f"{url}/comentario", data={"csrf_token": token(client, url),
                                                  "comentario": note}, headers=headers or {})


def test_a_comment_while_open_is_added_to_the_timeline(app, signed_in, seed_customer):
    made = file_one(app, seed_customer)
    response = comment(signed_in, made.id, "El medidor está en la azotea.")
    assert response.status_code == 303
    assert response.location == f"/mi-oficina/solicitudes/{made.id}#seguimiento"
    html = text(signed_in.get(f"{LIST}/{made.id}"))
    assert "Agregamos tu comentario a la solicitud." in html
    assert "comentaste" in html and "El medidor está en la azotea." in html
    with app.app_context():
        events = db.session.scalars(select(ServiceRequestEvent).where(
            ServiceRequestEvent.request_id == made.id).order_by(ServiceRequestEvent.id)).all()
        assert [(e.author, e.status) for e in events] == [("customer", "received"),
                                                          ("customer", "received")]


def test_a_bad_comment_is_refused_422_with_the_text_kept(app, signed_in, seed_customer):
    made = file_one(app, seed_customer)
    response = comment(signed_in, made.id, "x")
    assert response.status_code == 422
    html = text(response)
    assert html.startswith("<!doctype html>") or "<title>Error: " in html
    assert "Escribe tu comentario con al menos 2 caracteres." in html
    assert "\nx</textarea>" in html
    long = comment(signed_in, made.id, "y" * 2001)
    assert long.status_code == 422 and "y" * 2001 + "</textarea>" in text(long)


@pytest.mark.parametrize("status", ["resuelta", "cerrada"])
def test_a_resolved_or_closed_request_refuses_comments_409(app, signed_in, seed_customer,
                                                           status):
    made = file_one(app, seed_customer)
    set_status(app, made.folio, status)
    html = text(signed_in.get(f"{LIST}/{made.id}"))
    assert "/comentario" not in html and "no admite más comentarios" in html
    # A form left open in another tab, sent after the change.
    response = signed_in.post(f"{LIST}/{made.id}/comentario", data={
        "csrf_token": token(signed_in, LIST), "comentario": "¿Y mi respuesta?"})
    assert response.status_code == 409
    assert (f"Tu solicitud {made.folio} ya está {status}: no admite más comentarios."
            in text(response))
    with app.app_context():
        assert len(db.session.get(ServiceRequest, made.id).events) == 2


def test_another_customers_request_is_404_and_left_in_the_audit(app, signed_in, seed_customer):
    other = customer(app, username="otraPersona2", number="5550001")
    theirs = file_one(app, other)
    assert signed_in.get(f"{LIST}/{theirs.id}").status_code == 404
    assert comment(signed_in, theirs.id, "Hola, ¿qué tal?").status_code == 404
    assert signed_in.get(f"{LIST}/999999").status_code == 404
    assert theirs.folio not in text(signed_in.get(LIST))
    with app.app_context():
        assert len(db.session.get(ServiceRequest, theirs.id).events) == 1
        from ov.models import AuditEvent

        denied = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "access_denied")).all()
        assert {"record": "service_request", "record_id": theirs.id} in [
            e.details for e in denied]


def test_a_request_on_a_contract_no_longer_the_users_is_404(app, signed_in, seed_customer):
    made = file_one(app, seed_customer)
    with app.app_context():
        db.session.execute(UserAccount.__table__.delete())
        db.session.commit()
    assert signed_in.get(f"{LIST}/{made.id}").status_code == 404


# --- demo neighbours ------------------------------------------------------------------------

def test_the_demo_neighbours_requests_and_invoices_stay_theirs(app, client, billing):
    with app.app_context():
        demo_data.load_demo_requests()
        account = db.session.scalars(select(Account).where(
            Account.number == demo_data.SEED_ACCOUNT_NUMBER)).one()
        user = User(username="usuPDFactura1", email="cliente@ejemplo.mx",
                    password_hash=passwords.hash_password(PASSWORD))
        user.links.append(UserAccount(account=account))
        db.session.add(user)
        db.session.commit()
        neighbours = db.session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)).all()
        ids = [(r.id, r.invoice_id, r.folio) for r in neighbours]
    assert sign_in(client, "usuPDFactura1").status_code == 303
    listed = text(client.get(LIST))
    for request_id, invoice_id, folio in ids:
        assert client.get(f"{LIST}/{request_id}").status_code == 404
        assert folio not in listed
        if invoice_id is not None:
            assert client.get(f"{NEW}?factura={invoice_id}").status_code == 404


# --- "en aclaración" -----------------------------------------------------------------------------

def test_an_open_billing_claim_marks_its_invoice_en_aclaracion_until_resolved(
        app, signed_in, seed_customer):
    invoice_id = seed_customer["invoice_ids"][-2]
    page = f"/mi-oficina/facturas/{invoice_id}"
    html = text(signed_in.get(page))
    assert f'href="/mi-oficina/solicitudes/nueva?factura={invoice_id}"' in html
    assert "¿No estás de acuerdo con esta factura? Abre una aclaración" in html
    assert "en aclaración" not in html
    assert post_new(signed_in, answers(seed_customer, factura=str(invoice_id))).status_code == 303
    [made] = requests_in_db(app)
    html = text(signed_in.get(page))
    assert '<span class="badge">en aclaración</span>' in html
    assert f'<a href="/mi-oficina/solicitudes/{made.id}">reclamo {made.folio}</a>' in html
    table = text(signed_in.get("/mi-oficina/facturas?pagina=1",
                               headers={**PARTIAL, "HX-Target": "div#tabla-facturas"}))
    rows = [row for row in table.split("<tr>") if "en aclaración" in row]
    assert len(rows) == 1 and f"/mi-oficina/facturas/{invoice_id}" in rows[0]
    set_status(app, made.folio, "en-proceso")
    assert "en aclaración" in text(signed_in.get(page))
    set_status(app, made.folio, "resuelta", "Ajustamos tu factura.")
    assert "en aclaración" not in text(signed_in.get(page))
    assert "en aclaración" not in text(signed_in.get(
        "/mi-oficina/facturas?pagina=1", headers={**PARTIAL, "HX-Target": "div#tabla-facturas"}))


def test_a_reading_review_about_an_invoice_also_marks_it_but_other_types_do_not(
        app, signed_in, seed_customer):
    first, second = seed_customer["invoice_ids"][-1], seed_customer["invoice_ids"][-2]
    file_one(app, seed_customer, "reading_review", invoice_id=first)
    file_one(app, seed_customer, "tax_data", invoice_id=second)
    assert "en aclaración" in text(signed_in.get(f"/mi-oficina/facturas/{first}"))
    assert "en aclaración" not in text(signed_in.get(f"/mi-oficina/facturas/{second}"))


# --- constant queries ------------------------------------------------------------------------

def count(app, client, url: str, headers=None) -> int:
    client.get(url, headers=headers or {})  # warm
    with counting_queries(app) as statements:
        assert client.get(url, headers=headers or {}).status_code == 200
    return len(statements)


def test_the_request_page_runs_the_same_queries_whatever_its_timeline(app, signed_in,
                                                                      seed_customer):
    invoice_id = seed_customer["invoice_ids"][-1]
    short = file_one(app, seed_customer, "bill_clarification", invoice_id=invoice_id)
    long = file_one(app, seed_customer, "reading_review", invoice_id=invoice_id)
    with app.app_context():
        row = db.session.get(ServiceRequest, long.id)
        for index in range(40):
            service.add_comment(row, f"Comentario número {index}.")
        db.session.commit()
    few = count(app, signed_in, f"{LIST}/{short.id}")
    many = count(app, signed_in, f"{LIST}/{long.id}")
    assert few == many, (few, many)
    assert many <= 10, many


def test_the_list_the_form_and_the_invoices_run_the_same_queries_with_1_or_40_requests(
        app, signed_in, seed_customer):
    table = {**PARTIAL, "HX-Target": "div#tabla-facturas"}
    urls = [(LIST, {}), (NEW, {}), (f"{NEW}?factura={seed_customer['invoice_ids'][0]}", {}),
            ("/mi-oficina/facturas?pagina=1", table),
            (f"/mi-oficina/facturas/{seed_customer['invoice_ids'][-1]}", {})]
    file_one(app, seed_customer, "bill_clarification", invoice_id=seed_customer["invoice_ids"][-1])
    few = {url: count(app, signed_in, url, headers) for url, headers in urls}
    for index in range(39):
        file_one(app, seed_customer, "bill_clarification",
                 invoice_id=seed_customer["invoice_ids"][index % 6])
    many = {url: count(app, signed_in, url, headers) for url, headers in urls}
    assert few == many, (few, many)
    assert max(many.values()) <= 10, many


# --- valid HTML in every state -----------------------------------------------------------------

def test_every_requests_page_and_state_is_valid_html(app, signed_in, seed_customer, tmp_path):
    from tests.support.nu import Documents, describe

    documents = Documents(tmp_path)
    invoice_id = seed_customer["invoice_ids"][-1]
    open_one = file_one(app, seed_customer, "bill_clarification", invoice_id=invoice_id)
    set_status(app, open_one.folio, "en-proceso", "Lo revisamos.")
    closed = file_one(app, seed_customer, "other")
    set_status(app, closed.folio, "cerrada", "Atendida por teléfono.")
    pages = [LIST, NEW, f"{NEW}?factura={invoice_id}", f"{NEW}?tipo=fuga",
             f"{LIST}/{open_one.id}", f"{LIST}/{closed.id}"]
    for url in pages:
        for headers, add in (({}, documents.add), (PARTIAL, documents.add_fragment)):
            response = signed_in.get(url, headers=headers)
            assert response.status_code == 200, url
            add(f"GET {url}{' (fragment)' if headers else ''}", text(response))
    states = [
        ("empty form", post_new(signed_in, {})),
        ("leak told", post_new(signed_in, answers(seed_customer, descripcion="Huele a gas."))),
        ("leak chosen", post_new(signed_in, answers(seed_customer, tipo="fuga"))),
        ("short comment", comment(signed_in, open_one.id, "x")),
        ("closed comment", comment(signed_in, closed.id, "¿Y mi respuesta?")),
        ("leak in a comment", comment(signed_in, open_one.id, "Ahora huele a gas.")),
        ("leak beside another error", post_new(signed_in, answers(
            seed_customer, contrato="", descripcion="Huele a gas en la cocina."))),
    ]
    for label, response in states:
        assert response.status_code in (200, 409, 422), label
        documents.add(f"{label} ({response.status_code})", text(response))
    partial = post_new(signed_in, answers(seed_customer, descripcion="x"), headers=PARTIAL)
    assert partial.status_code == 422
    documents.add_fragment("refused form (fragment)", text(partial))
    found = documents.errors()
    assert not found, describe(found)


# --- the optional photo ------------------------------------------------------------------------

def with_photo(form: dict, content: bytes, name: str = "IMG_2041.JPG") -> dict:
    from io import BytesIO

    return {**form, "foto": (BytesIO(content), name, "image/jpeg")}


def photos_in_db(app) -> list[Photo]:
    with app.app_context():
        rows = list(db.session.scalars(select(Photo).order_by(Photo.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_a_claim_with_a_photo_shows_it_to_its_owner_only(app, signed_in, seed_customer):
    from tests.support import images

    response = post_new(signed_in, with_photo(answers(seed_customer, tipo="meter_review",
                                                      factura=""), images.photo(800, 600)))
    assert response.status_code == 303, text(response)[:500]
    [made] = requests_in_db(app)
    [photo] = photos_in_db(app)
    assert made.photo_id == photo.id and photo.user_id == seed_customer["user_id"]
    html = text(signed_in.get(response.location))
    assert f'<img src="/mi-oficina/fotos/{photo.id}.jpg"' in html
    served = signed_in.get(f"/mi-oficina/fotos/{photo.id}.jpg")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "no-store"
    assert "GPS" not in served.get_data(as_text=False).decode("latin-1")
    other = app.test_client()
    customer(app, username="otraPersona2", number="5550001")
    assert sign_in(other, "otraPersona2").status_code == 303
    assert other.get(f"/mi-oficina/fotos/{photo.id}.jpg").status_code == 404
    shown = app.test_cli_runner().invoke(args=["requests", "show", made.folio])
    with app.app_context():
        path = photos.path_of(db.session.get(Photo, photo.id))
    assert f"Foto adjunta: {path}" in shown.output.splitlines()


@pytest.mark.parametrize("content_name", ["script_in_jpeg", "html_named_jpeg", "truncated_jpeg"])
def test_a_file_that_is_no_usable_photo_is_refused_and_nothing_is_filed(
        app, signed_in, seed_customer, content_name):
    from tests.support import images

    content = getattr(images, content_name)()
    response = post_new(signed_in, with_photo(answers(seed_customer), content))
    if content_name == "script_in_jpeg":
        # A real JPEG with a script after its end: kept re-encoded, the script dropped.
        assert response.status_code == 303
        [photo] = photos_in_db(app)
        with app.app_context():
            from ov.services import photos

            stored = photos.path_of(photo).read_bytes()
        assert b"<script" not in stored
        return
    assert response.status_code == 422
    html = text(response)
    from ov.services import photos

    message = photos.NOT_A_PHOTO if content_name == "html_named_jpeg" else photos.DAMAGED
    assert f'<a href="#foto">{message}</a>' in html
    assert requests_in_db(app) == [] and photos_in_db(app) == []


def test_a_good_photo_survives_a_refused_answer(app, signed_in, seed_customer):
    from tests.support import images

    refused = post_new(signed_in, with_photo(answers(seed_customer, descripcion="corto"),
                                             images.photo(640, 480)))
    assert refused.status_code == 422
    [photo] = photos_in_db(app)
    html = text(refused)
    assert f'name="foto_guardada" type="hidden" value="{photo.id}"' in html
    assert "Ya tenemos tu foto" in html
    assert requests_in_db(app) == []
    again = post_new(signed_in, answers(seed_customer, foto_guardada=str(photo.id)))
    assert again.status_code == 303
    [made] = requests_in_db(app)
    assert made.photo_id == photo.id and len(photos_in_db(app)) == 1


def test_a_photo_larger_than_the_limit_is_413_with_a_message_about_the_photo(
        app, signed_in, monkeypatch):
    boundary = "limite-de-prueba"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"foto\"; "
            f"filename=\"foto.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + (
        b"x" * (2 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode())
    monkeypatch.setitem(app.config, "OV_PHOTO_MAX_MB", 1)
    response = signed_in.post(NEW, data=body,
                              content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert "La foto pesa más de 1 MB" in text(response)
    assert requests_in_db(app) == []


def test_the_same_form_sent_twice_files_one_request(app, signed_in, seed_customer):
    """A double tap without JavaScript (no htmx to drop the second): the second answer leads
    to the first request instead of filing it again."""
    form = answers(seed_customer)
    first = post_new(signed_in, form)
    second = post_new(signed_in, form)
    assert first.status_code == second.status_code == 303
    assert first.location == second.location
    assert len(requests_in_db(app)) == 1
    changed = post_new(signed_in, answers(seed_customer, descripcion="Otra cosa distinta."))
    assert changed.status_code == 303 and len(requests_in_db(app)) == 2


def test_an_invoice_under_the_users_open_claim_leads_to_it_instead_of_a_new_one(
        app, signed_in, seed_customer):
    invoice_id = seed_customer["invoice_ids"][-1]
    made = file_one(app, seed_customer, "bill_clarification", invoice_id=invoice_id)
    html = text(signed_in.get(f"/mi-oficina/facturas/{invoice_id}"))
    assert "Abre una aclaración" not in html
    assert (f'Ya tienes un reclamo abierto sobre esta factura: <a href="/mi-oficina/'
            f'solicitudes/{made.id}">folio {made.folio}</a>') in html


def test_the_list_says_when_it_shows_only_the_newest_50(app, signed_in, seed_customer):
    for _ in range(50):
        file_one(app, seed_customer)
    assert "Mostramos tus 50 solicitudes más recientes" not in text(signed_in.get(LIST))
    file_one(app, seed_customer)
    html = text(signed_in.get(LIST))
    assert "Mostramos tus 50 solicitudes más recientes" in html
    assert html.count('<tr id="solicitud-') == 50


def test_requests_pages_within_the_weight_budget(app, signed_in, seed_customer):
    """Compressed as a phone gets them: every page within 14 KB; the list, a request and the
    leak notice swap in under 2 KB; the form (nine types, the contract's invoices, the photo)
    in under 2.2 KB, a little over the 2 KB a swap aims at."""
    from tests.support.weight import ACCEPT, PAGE_BUDGET

    made = file_one(app, seed_customer, "bill_clarification",
                    invoice_id=seed_customer["invoice_ids"][-1])
    set_status(app, made.folio, "en-proceso", "Revisamos tu lectura con el lecturista.")
    swaps = {LIST: 2048, f"{LIST}/{made.id}": 2048, f"{NEW}?tipo=fuga": 2048, NEW: 2200,
             f"{NEW}?factura={seed_customer['invoice_ids'][-1]}": 2200}
    for url, swap_budget in swaps.items():
        page = signed_in.get(url, headers=ACCEPT)
        fragment = signed_in.get(url, headers={**ACCEPT, **PARTIAL})
        assert page.headers["Content-Encoding"] in ("br", "gzip")
        assert len(page.data) <= PAGE_BUDGET, (url, len(page.data))
        assert len(fragment.data) <= swap_budget, (url, len(fragment.data))


def test_a_leak_told_is_shown_even_when_another_answer_is_refused(app, signed_in,
                                                                  seed_customer):
    response = post_new(signed_in, answers(seed_customer, contrato="",
                                           descripcion="Huele a gas en la cocina desde ayer"))
    assert response.status_code == 422
    html = text(response)
    assert emergency_shown(html)
    assert "Elige uno de tus contratos." in html
    assert 'name="no_es_fuga"' in html and '<a href="#no_es_fuga">' in html
    assert "\nHuele a gas en la cocina desde ayer</textarea>" in html
    assert requests_in_db(app) == []


def test_a_comment_telling_of_a_leak_answers_with_the_emergency_notice(app, signed_in,
                                                                       seed_customer):
    made = file_one(app, seed_customer)
    url = f"{LIST}/{made.id}"
    response = comment(signed_in, made.id, "Ahora huele a gas junto al medidor")
    assert response.status_code == 422
    html = text(response)
    assert emergency_shown(html)
    assert 'name="no_es_fuga"' in html and '<a href="#no_es_fuga">' in html
    assert "\nAhora huele a gas junto al medidor</textarea>" in html
    with app.app_context():
        assert len(db.session.get(ServiceRequest, made.id).events) == 1
    sent = signed_in.post(f"{url}/comentario", data={
        "csrf_token": token(signed_in, url),
        "comentario": "La fuga que reparamos ya no huele a gas",
        "no_es_fuga": "y"})
    assert sent.status_code == 303
    with app.app_context():
        assert len(db.session.get(ServiceRequest, made.id).events) == 2


def test_a_closed_claim_says_claim_not_request(app, signed_in, seed_customer):
    made = file_one(app, seed_customer, category="meter_review")
    set_status(app, made.folio, "cerrada")
    html = text(signed_in.get(f"{LIST}/{made.id}"))
    assert "Esta solicitud ya está" not in html
    assert "Este reclamo ya está cerrado: no admite más comentarios." in html
    response = signed_in.post(f"{LIST}/{made.id}/comentario", data={
        "csrf_token": token(signed_in, LIST), "comentario": "¿Y mi respuesta?"})
    assert response.status_code == 409
    assert f"Tu reclamo {made.folio} ya está cerrado: no admite" in text(response)



def test_a_staff_answer_in_paragraphs_is_shown_in_paragraphs(app, signed_in, seed_customer):
    made = file_one(app, seed_customer)
    set_status(app, made.folio, "en-proceso", "Revisamos tu medidor.\r\n\r\n  Todo   bien. ")
    html = text(signed_in.get(f"{LIST}/{made.id}"))
    assert ('<p class="request-text">Revisamos tu medidor.</p>'
            '<p class="request-text">Todo bien.</p>') in html
