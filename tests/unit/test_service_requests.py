"""Service requests without HTTP: the bill-format request with its folio, one open at a time,
and staff's status changes (timeline, notices once, the format set when resolved), also
through the ``flask --app ov requests`` command."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from ov.extensions import db
from ov.models import (
    Notice,
    OutboxMail,
    ServiceRequest,
    ServiceRequestEvent,
    UserAccount,
    utcnow,
)
from ov.services import service_requests as service
from tests.support.factories import make_customer
from tests.support.rows import events

pytestmark = pytest.mark.usefixtures("clean_db")

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def link_of(user) -> UserAccount:
    return db.session.scalars(select(UserAccount).where(UserAccount.user_id == user.id)).one()


def notices_of(user) -> list[Notice]:
    return list(db.session.scalars(select(Notice).where(Notice.user_id == user.id)
                                   .order_by(Notice.id)))


def mails_to(address: str) -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == address)))


def ask(user, value: str = "braille"):
    return service.ask_bill_format(link_of(user), value, client_address="203.0.113.9", now=NOW)


def test_asking_for_braille_files_a_request_with_a_folio_from_its_id(app):
    with app.app_context():
        user, account = make_customer()
        outcome = ask(user)
        db.session.commit()
        assert isinstance(outcome, service.Asked)
        made = outcome.request
        assert made.folio == f"SR-2026-{made.id:06d}"
        assert (made.topic, made.detail, made.kind, made.status) == (
            "bill_format", "braille", "request", "received")
        assert [event.status for event in made.events] == ["received"]
        assert link_of(user).bill_format == "normal"  # not until it is done
        assert service.line(made) == (
            f"Pendiente: pediste tu factura en braille el 01/12/2026, folio {made.folio}.")
        assert service.open_bill_format_requests(user.id) == {account.id: made}
    [event] = events(app, "bill_format_requested")
    assert event.details == {"account_id": account.id, "folio": made.folio,
                             "bill_format": "braille"}


def test_folios_are_unique_across_requests(app):
    with app.app_context():
        user, _ = make_customer()
        other, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                 number="5550001")
        first, second = ask(user).request, ask(other, "letra_grande").request
        db.session.commit()
        assert first.folio != second.folio
        assert all(re.fullmatch(r"SR-2026-\d{6}", f) for f in (first.folio, second.folio))


def test_a_second_request_while_one_is_open_is_refused(app):
    with app.app_context():
        user, _ = make_customer()
        first = ask(user).request
        again = ask(user, "letra_grande")
        assert isinstance(again, service.StillOpen) and again.request is first
        assert len(list(db.session.scalars(select(ServiceRequest)))) == 1


def test_asking_for_the_format_the_bill_already_has_files_nothing(app):
    with app.app_context():
        user, _ = make_customer()
        assert ask(user, "normal") == service.SameFormat("normal")
        assert list(db.session.scalars(select(ServiceRequest))) == []


def test_an_unknown_format_is_a_programming_error(app):
    with app.app_context():
        user, _ = make_customer()
        with pytest.raises(ValueError):
            ask(user, "dorado")


# --- status changes -------------------------------------------------------------------------

def test_each_status_change_adds_an_event_and_one_notice_with_its_mail(app):
    with app.app_context():
        user, _ = make_customer()
        folio = ask(user).request.folio
        db.session.commit()
        changed = service.set_status(folio.lower(), "en-proceso", "  Lo imprime la  oficina ",
                                     now=NOW)
        db.session.commit()
        request = changed.request
        assert request.status == "in_progress"
        assert [(e.status, e.note) for e in request.events] == [
            ("received", ""), ("in_progress", "Lo imprime la oficina")]
        [notice] = notices_of(user)
        assert notice.kind == "request_status" and notice.key == f"{folio}:in_progress"
        assert notice.title == f"Tu solicitud {folio} está en proceso"
        assert "Nota: Lo imprime la oficina" in notice.body
        [sent] = changed.mails
        assert sent.to_address == user.email and sent.subject == f"Aviso: {notice.title}"
        assert "/mi-oficina/solicitudes" in sent.body_text
    [event] = events(app, "service_request_status")
    assert event.details == {"folio": folio, "previous": "received", "status": "in_progress",
                             "by": "staff"}


def test_no_mail_for_a_user_who_does_not_want_request_notices_by_email(app):
    with app.app_context():
        user, _ = make_customer()
        user.notify_request = False
        folio = ask(user).request.folio
        changed = service.set_status(folio, "en-proceso", now=NOW)
        db.session.commit()
        assert changed.mails == [] and len(notices_of(user)) == 1
        assert mails_to(user.email) == []


def test_a_resolved_format_request_sets_the_format_and_says_so_once(app):
    with app.app_context():
        user, account = make_customer()
        folio = ask(user, "letra_grande").request.folio
        changed = service.set_status(folio, "resuelta", now=NOW)
        db.session.commit()
        assert changed.format_set and link_of(user).bill_format == "letra_grande"
        [notice] = notices_of(user)
        assert notice.kind == "preference_done" and notice.key == folio
        assert notice.title == "Listo: tu factura se imprimirá en letra grande"
        assert account.printed_number in notice.body
        assert len(changed.mails) == 1
        assert service.open_bill_format_requests(user.id) == {}
        assert isinstance(ask(user, "normal"), service.Asked)  # a new one may be asked
    [event] = events(app, "bill_format_changed")
    assert event.details["bill_format"] == "letra_grande"


def test_a_format_request_on_a_contract_no_longer_theirs_changes_nothing(app):
    with app.app_context():
        user, _ = make_customer()
        folio = ask(user).request.folio
        db.session.delete(link_of(user))
        db.session.flush()
        changed = service.set_status(folio, "resuelta", now=NOW)
        assert not changed.format_set
        assert [notice.kind for notice in notices_of(user)] == ["request_status"]


@pytest.mark.parametrize(("steps", "status", "message"), [
    ([], "recibida", "No hay ningún estado «recibida». Los estados son: en-proceso, "
                     "resuelta, cerrada."),
    ([], "lista", "No hay ningún estado «lista»."),
    (["resuelta"], "en-proceso", "ya está resuelta: solo puede avanzar"),
    (["en-proceso"], "en-proceso", "ya está en proceso: solo puede avanzar"),
    (["cerrada"], "resuelta", "ya está cerrada: no cambia más."),
])
def test_status_changes_only_go_forward(app, steps, status, message):
    with app.app_context():
        user, _ = make_customer()
        folio = ask(user).request.folio
        for step in steps:
            service.set_status(folio, step, "Lo pidió el cliente", now=NOW)
        with pytest.raises(service.RequestError, match=re.escape(message)):
            service.set_status(folio, status, now=NOW)


def test_an_unknown_folio_is_said_plainly(app):
    with app.app_context(), pytest.raises(service.RequestError,
                                          match="No hay ninguna solicitud con el folio «SR-1»"):
        service.set_status(" SR-1 ", "resuelta")


# --- the staff command ----------------------------------------------------------------------

def run(app, *args):
    return app.test_cli_runner().invoke(args=["requests", *args])


def filed(app) -> tuple[str, int, str]:
    """A customer's braille request, committed: its folio, the user's id, the contract."""
    with app.app_context():
        user, account = make_customer()
        folio = ask(user).request.folio
        db.session.commit()
        return folio, user.id, account.printed_number


def test_staff_list_and_move_a_request_from_the_command_line(app):
    folio, user_id, printed = filed(app)
    listed = run(app, "list", "--open")
    assert listed.exit_code == 0, listed.output
    assert listed.output == (f"{folio}  recibida  accessible_bill  01/12/2026 12:00  "
                             f"responder antes del 11/12/2026  Nuevo Laredo {printed}  "
                             "Formato de la factura impresa: braille\n")
    moved = run(app, "update", folio, "--status", "en-proceso", "--note", "En imprenta")
    assert moved.exit_code == 0, moved.output
    assert moved.output == f"Solicitud {folio}: ahora está en proceso.\n"
    done = run(app, "update", folio, "--status", "resuelta")
    assert done.exit_code == 0, done.output
    assert done.output == (f"Solicitud {folio}: ahora está resuelta. La factura de su contrato "
                           "ya se imprime en braille.\n")
    assert run(app, "list", "--open").output == "No hay solicitudes abiertas.\n"
    assert "resuelta" in run(app, "list").output
    with app.app_context():
        from ov.models import User

        user = db.session.get(User, user_id)
        assert link_of(user).bill_format == "braille"
        assert [n.kind for n in notices_of(user)] == ["request_status", "preference_done"]


@pytest.mark.parametrize(("args", "message"), [
    (["update", "SR-2026-999999", "--status", "resuelta"],
     "No hay ninguna solicitud con el folio «SR-2026-999999»."),
    (["update", "{folio}", "--status", "hecha"], "No hay ningún estado «hecha»."),
    (["update", "{folio}", "--status", "resuelta", "--note", "a\x1bb"],
     "La nota tiene caracteres de control"),
])
def test_the_command_refuses_bad_input_in_spanish(app, args, message):
    with app.app_context():
        user, _ = make_customer()
        folio = ask(user).request.folio
        db.session.commit()
    refused = run(app, *[arg.format(folio=folio) for arg in args])
    assert refused.exit_code == 1
    assert message in refused.output and "Traceback" not in refused.output
    with app.app_context():
        assert db.session.scalars(select(ServiceRequest)).one().status == "received"


def test_listing_nothing_says_so(app):
    assert run(app, "list").output == "No hay solicitudes.\n"


# --- closing without doing it, a contract no longer theirs, two staff at once -----------------

def test_closing_an_open_format_request_needs_a_note_the_customer_reads(app):
    folio, user_id, printed = filed(app)
    refused = run(app, "update", folio, "--status", "cerrada")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert (f"Para cerrar la solicitud {folio} sin atenderla escribe con --note por qué: "
            "se lo diremos al cliente.") in refused.output
    closed = run(app, "update", folio, "--status", "cerrada", "--note",
                 "El contrato está en baja temporal")
    assert closed.exit_code == 0, closed.output
    assert closed.output == (f"Solicitud {folio}: ahora está cerrada. No se aplicó el formato: "
                             "la factura de su contrato sigue en formato normal.\n")
    with app.app_context():
        from ov.models import User

        user = db.session.get(User, user_id)
        [notice] = notices_of(user)
        assert notice.title == f"Cerramos tu solicitud {folio} sin cambiar el formato"
        assert notice.body == (
            f"Cerramos tu solicitud {folio} sin atenderla: la factura impresa del contrato "
            f"{printed} se sigue imprimiendo en formato normal. Motivo: El contrato está en "
            "baja temporal. Si todavía la quieres en braille, pídela de nuevo en Preferencias.")
        assert link_of(user).bill_format == "normal"
        [mail] = mails_to(user.email)
        assert "Motivo: El contrato está en baja temporal" in mail.body_text


def test_a_resolved_request_on_a_contract_no_longer_linked_says_the_format_was_not_set(app):
    with app.app_context():
        user, _ = make_customer()
        folio = ask(user).request.folio
        db.session.delete(link_of(user))
        db.session.commit()
    done = run(app, "update", folio, "--status", "resuelta")
    assert done.exit_code == 0, done.output
    assert done.output == (f"Solicitud {folio}: ahora está resuelta. No se aplicó el formato: "
                           "el contrato ya no está ligado a quien lo pidió.\n")


def test_two_staff_moving_the_same_request_at_once_make_one_change(app):
    with app.app_context():
        user, _ = make_customer()
        made = ask(user).request
        folio, request_id = made.folio, made.id
        db.session.commit()
        assert service.find(folio).status == "received"  # what this staff member read
        with db.engine.begin() as other:  # another moved it meanwhile
            other.execute(update(ServiceRequest).where(ServiceRequest.id == request_id)
                          .values(status="in_progress"))
        with pytest.raises(service.RequestError,
                           match=f"La solicitud {folio} cambió mientras tanto"):
            service.set_status(folio, "resuelta", now=NOW)
        db.session.rollback()
        db.session.expire_all()
        again = service.find(folio)
        assert again.status == "in_progress"
        assert [event.status for event in again.events] == ["received"]
        assert notices_of(user) == []


def test_the_list_says_formats_in_words_and_stops_at_its_limit(app):
    with app.app_context():
        folios = []
        for number in range(3):
            user, _ = make_customer(username=f"persona{number}x", email=f"p{number}@ejemplo.mx",
                                    number=f"555000{number}")
            folios.append(ask(user, "letra_grande").request.folio)
        db.session.commit()
    listed = run(app, "list")
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("Formato de la factura impresa: letra grande\n") == 3
    assert "letra_grande" not in listed.output
    first_two = run(app, "list", "--limit", "2")
    assert first_two.exit_code == 0, first_two.output
    lines = first_two.output.splitlines()
    assert [line.split()[0] for line in lines[:2]] == folios[:2]
    assert lines[2:] == ["Hay más: muestra más con --limit (hoy 2)."]
    assert run(app, "list", "--limit", "0").exit_code == 2  # at least one


@pytest.mark.usefixtures("clean_db")
def test_steps_written_in_the_same_instant_keep_the_order_they_were_written_in(app):
    with app.app_context():
        user, account = make_customer(username="usuMismoInstante")
        at = utcnow()
        request = ServiceRequest(folio="SR-ORDEN-1", account_id=account.id, user_id=user.id,
                                 kind="claim", subject="Orden", body="Texto", created_at=at)
        request.events = [ServiceRequestEvent(at=at, status="received", note=str(n))
                          for n in range(6)]
        db.session.add(request)
        db.session.commit()
        request_id = request.id
        db.session.expunge_all()
        again = db.session.get(ServiceRequest, request_id)
        assert [event.note for event in again.events] == [str(n) for n in range(6)]
