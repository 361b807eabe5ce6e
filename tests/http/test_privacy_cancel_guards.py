"""Cancelling the user, against what could outlive it: open bill-format requests on its
contracts, old email links, a recovery by bill still open to undo, a double submit, its
mails in the outbox; and what the download and the privacy office see."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import (
    OutboxMail,
    PrivacyRequest,
    ServiceRequest,
    ServiceRequestEvent,
    User,
    UserAccount,
    utcnow,
)
from ov.services import account_changes, privacy
from tests.http.test_office_privacy import post, text, the_user
from tests.http.test_recovery_by_bill import (
    NEW_EMAIL,
    OWNER_EMAIL,
    THIEF_PASSWORD,
    age_changes,
    link_in,
    recover,
)
from tests.support.journeys import PASSWORD, Registration, hidden, sign_in
from tests.support.queries import counting_queries
from tests.support.rows import events, outbox

pytestmark = pytest.mark.usefixtures("billing")

CANCEL = "/mi-oficina/datos/cancelar"
DOWNLOAD = "/mi-oficina/datos/mis-datos.json"
PRIVACY_OFFICE = "datos.personales@oficinavirtual.example"


@pytest.fixture
def customer(app, client):
    assert Registration(client, app).complete().status_code == 303
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return client


def contract_id(app) -> int:
    with app.app_context():
        return db.session.scalars(select(UserAccount.account_id)).one()


def ask_braille(app, client):
    account_id = contract_id(app)
    page = text(client.get("/mi-oficina/datos/preferencias"))
    return client.post(f"/mi-oficina/datos/preferencias/formato/{account_id}", data={
        "csrf_token": hidden(page, "csrf_token"), f"contrato{account_id}-formato": "braille"})


def open_topic_requests(app) -> list[ServiceRequest]:
    with app.app_context():
        return list(db.session.scalars(select(ServiceRequest).where(
            ServiceRequest.topic.is_not(None),
            ServiceRequest.status.in_(("received", "in_progress")))))


# --- 1. open bill-format requests -----------------------------------------------------------

def test_cancelling_closes_the_open_bill_format_request_so_the_next_owner_can_ask(
        app, customer):
    assert ask_braille(app, customer).status_code == 303
    assert len(open_topic_requests(app)) == 1
    assert post(customer, CANCEL, contrasena=PASSWORD).status_code == 303
    assert open_topic_requests(app) == []
    with app.app_context():
        row = db.session.scalars(select(ServiceRequest)).one()
        assert row.status == "closed"
        notes = db.session.scalars(select(ServiceRequestEvent.note).where(
            ServiceRequestEvent.request_id == row.id)).all()
    assert "Cerrada: el usuario canceló su cuenta." in notes
    [closed] = events(app, "service_request_closed")
    assert closed.details["folio"] == row.folio
    # The contract's next owner asks for a format of their own.
    again = Registration(app.test_client(), app)
    assert again.step1().status_code == 303
    assert again.step2(usuario="nuevoUsuario1", correo="otra@ejemplo.mx",
                       correo2="otra@ejemplo.mx").status_code == 303
    assert again.step3().status_code == 303
    newcomer = app.test_client()
    assert sign_in(newcomer, "nuevoUsuario1").status_code == 303
    assert ask_braille(app, newcomer).status_code == 303
    assert len(open_topic_requests(app)) == 1


def test_removing_a_contract_closes_its_open_bill_format_request(app, customer):
    from tests.support.factories import make_customer

    assert ask_braille(app, customer).status_code == 303
    account_id = contract_id(app)
    with app.app_context():
        # A second contract, so the first one can be removed.
        other, spare = make_customer(username="otraPersona2", email="x@ejemplo.mx",
                                     number="5550001")
        link = db.session.scalars(select(UserAccount).where(
            UserAccount.user_id == other.id)).one()
        link.user_id = the_user(app).id
        db.session.commit()
    removed = post(customer, f"/mi-oficina/contratos/{account_id}/quitar")
    assert removed.status_code == 303
    assert open_topic_requests(app) == []
    with app.app_context():
        notes = db.session.scalars(select(ServiceRequestEvent.note)).all()
    assert "Cerrada: el usuario quitó el contrato." in notes


# --- 2. email links and the recovery by bill --------------------------------------------------

def test_old_email_links_refuse_a_cancelled_user(app, customer):
    recover(app, app.test_client())
    confirm = link_in(app, NEW_EMAIL, "confirmar-correo")
    undo = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    with app.app_context():  # cancelled by the utility's records, whatever the links say
        db.session.get(User, the_user(app).id).blocked_at = utcnow()
        db.session.commit()
    before = the_user(app)
    tab = app.test_client()
    for link in (confirm, undo):
        page = tab.get(link)
        assert page.status_code == 410
        assert "Este usuario se canceló" in text(page)
        acted = tab.post(link, data={"csrf_token": hidden(text(tab.get("/entrar")),
                                                          "csrf_token")})
        assert acted.status_code == 410
    after = the_user(app)
    assert (after.email, after.pending_email, after.password_hash) == (
        before.email, before.pending_email, before.password_hash)
    assert events(app, "account_change_undone") == [] and events(app, "email_changed") == []


def test_cancelling_keeps_the_mails_to_the_pending_address_and_its_link_is_refused(
        app, customer):
    """The pending address may be someone else's by now: cancelling deletes no mail to it,
    the confirmation link mailed there refuses the cancelled user, and the address is free
    for anyone else at once."""
    from ov.services import profile

    pending = "nueva@ejemplo.mx"
    assert post(customer, "/mi-oficina/datos/correo", correo=pending,
                correo2=pending).status_code == 303
    confirm = link_in(app, pending, "confirmar-correo")
    with app.app_context():  # a mail to that address for someone else, after the request
        db.session.add(OutboxMail(to_address=pending, subject="De otra persona",
                                  body_text="x"))
        db.session.commit()
    before = [m.id for m in outbox(app) if m.to_address == pending]
    assert len(before) == 2
    assert post(customer, CANCEL, contrasena=PASSWORD).status_code == 303
    assert [m.id for m in outbox(app) if m.to_address == pending] == before
    tab = app.test_client()
    page = tab.get(confirm)
    assert page.status_code == 410 and "Este usuario se canceló" in text(page)
    acted = tab.post(confirm, data={"csrf_token": hidden(text(tab.get("/entrar")),
                                                         "csrf_token")})
    assert acted.status_code == 410
    assert the_user(app).email == OWNER_EMAIL
    assert events(app, "email_changed") == []
    with app.app_context():
        assert not profile.email_taken(pending)


def test_whoever_recovered_with_the_bill_cannot_cancel_before_the_undo_period_ends(
        app, customer):
    thief = app.test_client()
    recover(app, thief)
    assert sign_in(thief, "usuPDFactura1", THIEF_PASSWORD).status_code == 303
    page = thief.get(CANCEL)
    assert page.status_code == 409
    refused = post(thief, CANCEL, contrasena=THIEF_PASSWORD)
    assert refused.status_code == 409
    html = text(refused)
    assert "hace poco se recuperó el acceso con una factura, y el correo anterior aún puede " \
        "deshacerlo" in html
    until = re.search(r"hasta el (\d\d/\d\d/\d{4} \d\d:\d\d)", html)
    assert until, html
    assert the_user(app).blocked_at is None
    assert events(app, "user_cancelled") == []
    # The owner's undo link still works; once the period is over, cancelling works again.
    age_changes(app, days=8)
    assert thief.get(CANCEL).status_code == 200
    assert post(thief, CANCEL, contrasena=THIEF_PASSWORD).status_code == 303


def test_the_owner_who_changed_their_own_email_can_cancel_at_once(app, customer):
    """The guard is for a recovery by bill: an email changed from Mi oficina (the password
    given again) leaves the old address its undo link, and cancelling is the owner's right."""
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        account_changes.ask_for_email(user, "nuevo@ejemplo.mx")
        assert account_changes.confirm_pending(user, "nuevo@ejemplo.mx", client_address=None)
        db.session.commit()
        assert account_changes.link_for(user, "correo@electronico.es")  # its undo is open
    assert customer.get(CANCEL).status_code == 200
    assert post(customer, CANCEL, contrasena=PASSWORD).status_code == 303
    assert the_user(app).blocked_at is not None


# --- 3. twice at once -----------------------------------------------------------------------

def test_a_second_submit_after_the_cancellation_makes_nothing_new(app, customer):
    token = hidden(text(customer.get(CANCEL)), "csrf_token")
    with app.app_context():
        user = db.session.get(User, the_user(app).id)
        privacy.cancel(user, client_address=None)
        db.session.commit()
    again = customer.post(CANCEL, data={"csrf_token": token, "contrasena": PASSWORD})
    assert again.status_code in (302, 303)
    with app.app_context():
        assert len(db.session.scalars(select(PrivacyRequest)).all()) == 1
    assert len([m for m in outbox(app) if m.subject.startswith("Cancelaste")]) == 1


# --- 4. the purge ---------------------------------------------------------------------------

def test_the_purge_deletes_the_mails_sent_to_the_user(app, customer):
    recover(app, app.test_client())  # mails to the owner and to the pending address
    age_changes(app, days=8)
    with app.app_context():
        db.session.add(OutboxMail(to_address="alguien@ejemplo.mx", subject="Otro",
                                  body_text="x"))
        db.session.commit()
    owner = app.test_client()
    assert sign_in(owner, "usuPDFactura1", THIEF_PASSWORD).status_code == 303
    assert post(owner, CANCEL, contrasena=THIEF_PASSWORD).status_code == 303
    with app.app_context():
        assert privacy.purge_cancelled(now=utcnow() + timedelta(days=31)) == 1
        db.session.commit()
        left = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
    # The privacy office's copy of the request stays, like the request itself.
    assert [m.to_address for m in left] == ["alguien@ejemplo.mx", PRIVACY_OFFICE]


def test_the_purge_marks_the_cancellation_request_resolved(app, customer):
    assert post(customer, CANCEL, contrasena=PASSWORD).status_code == 303
    with app.app_context():
        privacy.purge_cancelled(now=utcnow() + timedelta(days=31))
        db.session.commit()
        assert db.session.scalars(select(PrivacyRequest.status)).one() == "resolved"


# --- 5 and 6. the download -------------------------------------------------------------------

def test_the_download_holds_changes_mails_and_which_contract_a_notice_is_about(app, customer):
    recover(app, app.test_client())
    tab = app.test_client()
    assert sign_in(tab, "usuPDFactura1", THIEF_PASSWORD).status_code == 303
    data = json.loads(tab.get(DOWNLOAD).get_data())
    [change] = data["cambios_de_acceso"]
    assert change["tipo"] and change["avisado_a"] == OWNER_EMAIL and change["el"]
    assert data["usuario"]["correo_nuevo_pedido_el"]
    mails = data["correos_enviados"]
    assert mails and {"asunto", "a", "el"} <= set(mails[0])
    assert {m["a"] for m in mails} >= {OWNER_EMAIL, NEW_EMAIL}
    assert "texto" not in mails[0]
    assert all("contrato" in notice for notice in data["avisos"])
    summary = text(tab.get("/mi-oficina/datos/mis-datos"))
    assert "1 cambio de acceso" in summary and "correos enviados" in summary


def test_the_download_leaves_out_the_address_of_someone_else(app, customer):
    other = Registration(app.test_client(), app)
    other.client.post("/registro/paso-1", data=other.step1_form(),
                      environ_base={"REMOTE_ADDR": "198.51.100.77"})
    assert events(app, "registration_already_registered")
    data = json.loads(customer.get(DOWNLOAD).get_data())
    kinds = {e["tipo"]: e for e in data["eventos_de_seguridad"]}
    assert kinds["registration_already_registered"]["direccion_ip"] is None
    assert "198.51.100.77" not in json.dumps(data)
    assert kinds["login_succeeded"]["direccion_ip"] is not None


def test_the_download_queries_stay_the_same_with_mails_and_changes(app, customer):
    with counting_queries(app) as short:
        assert customer.get(DOWNLOAD).status_code == 200
    recover(app, app.test_client())
    tab = app.test_client()
    assert sign_in(tab, "usuPDFactura1", THIEF_PASSWORD).status_code == 303
    with counting_queries(app) as long:
        assert tab.get(DOWNLOAD).status_code == 200
    assert len(long) == len(short)


def test_the_download_filename_takes_the_day_in_mexico_city(app, customer, monkeypatch):
    from ov.blueprints.office import privacy as pages

    # 01/12/2026 05:30 in UTC is still 30/11/2026 in Mexico City.
    monkeypatch.setattr(pages, "utcnow", lambda: datetime(2026, 12, 1, 5, 30, tzinfo=UTC))
    response = customer.get(DOWNLOAD)
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="mis-datos-oficina-virtual-2026-11-30.json"')


def test_the_summary_says_the_download_adds_an_event(customer):
    html = text(customer.get("/mi-oficina/datos/mis-datos"))
    assert "más el de esta descarga" in html


# --- 7. the privacy office ------------------------------------------------------------------

def test_each_request_is_mailed_to_the_privacy_office(app, customer):
    filed = post(customer, "/mi-oficina/datos/derechos/oposicion", finalidad="encuestas")
    assert filed.status_code == 303
    assert post(customer, CANCEL, contrasena=PASSWORD).status_code == 303
    with app.app_context():
        folios = db.session.scalars(select(PrivacyRequest.folio).order_by(
            PrivacyRequest.id)).all()
    told = [m for m in outbox(app) if m.to_address == PRIVACY_OFFICE]
    assert len(told) == 2
    for folio, sent in zip(folios, told, strict=True):
        assert folio in sent.subject and "usuPDFactura1" in sent.body_text


def test_the_cancel_pages_promise_no_unblocking(app, customer):
    page = text(customer.get(CANCEL))
    done = post(customer, CANCEL, contrasena=PASSWORD)
    after = text(customer.get(done.location))
    [sent] = [m for m in outbox(app) if m.subject.startswith("Cancelaste")]
    for html in (page, after, sent.body_text, sent.body_html):
        assert "cambi" not in html.lower().replace("cambiar", "") or "opinión" not in html
        assert "registrarte de nuevo" in html


# --- 9. the password's message --------------------------------------------------------------

def test_the_empty_password_message_matches_its_label(customer):
    refused = post(customer, CANCEL, contrasena="")
    html = text(refused)
    label = re.search(r'<label for="contrasena">(?:<span[^>]*>[^<]*</span>)?([^<:]+):',
                      html).group(1)
    assert label == "Tu contraseña actual" and "Escribe tu contraseña actual." in html


def test_the_new_pages_and_mails_are_valid_html(app, customer, tmp_path):
    from tests.support.nu import Documents, describe

    documents = Documents(tmp_path)
    assert post(customer, "/mi-oficina/datos/derechos/oposicion",
                finalidad="encuestas").status_code == 303
    thief = app.test_client()
    recover(app, thief)
    assert sign_in(thief, "usuPDFactura1", THIEF_PASSWORD).status_code == 303
    documents.add("cancel refused", text(thief.get(CANCEL)))
    documents.add("my data with changes and mails",
                  text(thief.get("/mi-oficina/datos/mis-datos")))
    undo = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    with app.app_context():
        db.session.get(User, the_user(app).id).blocked_at = utcnow()
        db.session.commit()
    documents.add("a cancelled user's link", text(app.test_client().get(undo)))
    for row in outbox(app):
        if row.to_address == PRIVACY_OFFICE:
            documents.add(f"mail {row.subject}", row.body_html)
    found = documents.errors()
    assert not found, describe(found)
