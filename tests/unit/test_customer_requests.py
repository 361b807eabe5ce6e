"""What customers file from Mis solicitudes y reclamos, without HTTP: the folio and the
answer-by date, claims and requests, leak detection, the text rules, comments while open,
staff's status changes and notes told to the customer, and the staff command line (show,
update with a note alone, export as JSON lines and CSV)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

import pytest
from sqlalchemy import select, update

from ov.extensions import db
from ov.models import Notice, OutboxMail, ServiceRequest
from ov.services import photos
from ov.services import service_requests as service
from ov.services.office import Scope
from tests.support import images
from tests.support.factories import make_customer, make_invoices
from tests.support.rows import events

pytestmark = pytest.mark.usefixtures("clean_db")

# 23:30 in Mexico City on 30 November is already 1 December in UTC.
LATE_EVENING = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)
NOON = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
#: When the command-line tests' claim was filed: before anything staff do next.
FILED = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)


def file(user, account, category="bill_clarification", text="Me cobraron dos veces el cargo "
         "fijo.", **extra):
    return service.file_request(user.id, account.id, category, text, **extra)


# --- filing ------------------------------------------------------------------------------------

def test_a_claim_gets_its_folio_its_kind_and_the_day_it_must_be_answered_by(app):
    with app.app_context():
        user, account = make_customer()
        [invoice] = make_invoices(account, 1)
        made = file(user, account, invoice_id=invoice.id, now=NOON, client_address="203.0.113.9")
        db.session.commit()
        assert made.folio == f"SR-2026-{made.id:06d}"
        assert (made.kind, made.category, made.status, made.topic) == (
            "claim", "bill_clarification", "received", None)
        assert made.subject == "Aclaración de factura"
        assert made.answer_due_on == date(2026, 12, 11)  # 10 calendar days
        assert [(e.status, e.author) for e in made.events] == [("received", "customer")]
        expected = {"account_id": account.id, "folio": made.folio,
                    "category": "bill_clarification", "invoice_id": invoice.id, "photo": False}
    [event] = events(app, "service_request_filed")
    assert event.details == expected
    assert "cobraron" not in json.dumps(event.details)  # the text is never audited


@pytest.mark.parametrize(("category", "kind"), [
    ("bill_clarification", "claim"), ("reading_review", "claim"), ("meter_review", "claim"),
    ("change_of_holder", "request"), ("end_of_service", "request"),
    ("accessible_bill", "request"), ("tax_data", "request"), ("other", "request")])
def test_the_first_three_types_are_claims_the_rest_requests(category, kind):
    assert service.kind_of(category) == kind


def test_the_answer_date_counts_from_the_day_in_mexico_and_follows_the_setting(app):
    with app.app_context():
        # Filed at 23:30 on 30/11 in Mexico: the count starts on the 30th, not on the 1st.
        assert service.answer_due(LATE_EVENING, "bill_clarification") == date(2026, 12, 10)
        assert service.answer_due(NOON, "meter_review") == date(2026, 12, 16)
        days = dict(app.config["OV_REQUEST_ANSWER_DAYS"])
        try:
            app.config["OV_REQUEST_ANSWER_DAYS"] = {**days, "tax_data": 3}
            assert service.answer_due(NOON, "tax_data") == date(2026, 12, 4)
        finally:
            app.config["OV_REQUEST_ANSWER_DAYS"] = days


def test_an_unknown_category_is_a_programming_error(app):
    with app.app_context():
        user, account = make_customer()
        with pytest.raises(ValueError):
            file(user, account, category="fuga")


def test_folios_of_many_requests_are_distinct_and_follow_the_ids(app):
    with app.app_context():
        user, account = make_customer()
        made = [file(user, account, category="other", now=NOON) for _ in range(5)]
        db.session.commit()
        folios = [request.folio for request in made]
        assert len(set(folios)) == 5
        assert folios == [f"SR-2026-{request.id:06d}" for request in made]


# --- a leak is an emergency --------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Hay una fuga en el patio", "HUELE A GAS en la cocina", "huele mucho a gas",
    "Sentimos olor a gas desde ayer", "un olor de gas muy fuerte", "Creo que hay fugas",
    "se está saliendo el gas del medidor", "escape de gas en la calle", "Huélé a gás",
    "está fugando el tubo", "Hay OLOR A GAS",
    "olor fuerte a gas", "hay un olor muy fuerte a gas", "olor gas", "apesta a gas",
    "güele a gas", "hay fuguita", "se fugó", "el gas se está saliendo",
    "el gas se escapa por la llave", "hay una fuga de agua y huele a gas"])
def test_a_description_that_tells_of_a_leak_is_recognised(text):
    assert service.mentions_leak(text)


@pytest.mark.parametrize("text", [
    "Me cobraron de más este mes", "La lectura de gas no coincide con mi medidor",
    "Quiero mis datos fiscales para el CFDI", "El fugaz cambio de tarifa", "gasto mucho gas",
    "Refugio 12, colonia Centro", "", "mi factura llegó alta", "gasté mucho", "gasolina",
    "hay una fuga de agua en el patio", "Las fugas de agua del edificio", "me duele el gasto",
    "Cambios fugaces en el precio del gas"])
def test_ordinary_descriptions_are_not_leaks(text):
    assert not service.mentions_leak(text)


# --- the text rules ------------------------------------------------------------------------------

def test_a_description_is_trimmed_and_keeps_its_line_breaks():
    assert service.clean_description("  Primero esto.\r\nLuego\taquello.  ") == (
        "Primero esto.\nLuego\taquello.")


@pytest.mark.parametrize(("value", "message"), [
    ("", "Escribe la descripción."),
    ("   \n ", "Escribe la descripción."),
    ("Muy corto", "Escribe la descripción con al menos 10 caracteres."),
    ("x" * 2001, "La descripción tiene 2,001 caracteres; el máximo es 2,000. Acórtala."),
    ("Texto con \x00 nulo dentro", "La descripción tiene caracteres que no se pueden escribir "
                                   "con el teclado. Escríbela de nuevo sin ellos."),
    ("Texto con \u202e al revés", "La descripción tiene caracteres que no se pueden escribir "
                                  "con el teclado. Escríbela de nuevo sin ellos."),
])
def test_a_bad_description_gets_a_spanish_message(value, message):
    with pytest.raises(service.TextError) as refused:
        service.clean_description(value)
    assert str(refused.value) == message


def test_the_limits_are_inclusive():
    assert service.clean_description("x" * 10) == "x" * 10
    assert service.clean_description("x" * 2000) == "x" * 2000
    assert service.clean_comment("ok") == "ok"
    with pytest.raises(service.TextError):
        service.clean_comment("x")


# --- comments ------------------------------------------------------------------------------------

def test_a_comment_on_an_open_request_is_an_event_that_tells_nobody(app):
    with app.app_context():
        user, account = make_customer()
        made = file(user, account)
        db.session.commit()
        service.set_status(made.folio, "en-proceso", "Lo revisamos.")
        db.session.commit()
        before = db.session.scalar(select(db.func.count(Notice.id)))
        mails = db.session.scalar(select(db.func.count(OutboxMail.id)))
        service.add_comment(made, "Adjunto el número de mi medidor: AC197332157.")
        db.session.commit()
        assert [(e.author, e.status) for e in made.events] == [
            ("customer", "received"), ("staff", "in_progress"), ("customer", "in_progress")]
        assert made.events[-1].note == "Adjunto el número de mi medidor: AC197332157."
        assert made.status == "in_progress"
        assert db.session.scalar(select(db.func.count(Notice.id))) == before
        assert db.session.scalar(select(db.func.count(OutboxMail.id))) == mails
        folio = made.folio
    assert [e.details for e in events(app, "service_request_comment")] == [{"folio": folio}]


@pytest.mark.parametrize("status", ["resuelta", "cerrada"])
def test_a_resolved_or_closed_request_takes_no_comment(app, status):
    with app.app_context():
        user, account = make_customer()
        made = file(user, account, now=NOON)
        service.set_status(made.folio, status)
        db.session.commit()
        with pytest.raises(service.RequestError) as refused:
            service.add_comment(made, "¿Y mi respuesta?")
        word = {"resuelta": "resuelto", "cerrada": "cerrado"}[status]  # a claim: masculine
        assert str(refused.value) == (f"Tu reclamo {made.folio} ya está {word}: no admite más "
                                      "comentarios. Si necesitas algo más, abre una nueva "
                                      "solicitud.")
        assert len(made.events) == 2


def test_a_comment_after_a_close_committed_meanwhile_is_refused(app):
    with app.app_context():
        user, account = make_customer()
        made = file(user, account, now=NOON)
        db.session.commit()
        assert made.status == "received"  # loaded: what the page read
        # Staff close it meanwhile, behind the loaded object's back.
        db.session.execute(update(ServiceRequest).where(ServiceRequest.id == made.id)
                           .values(status="closed")
                           .execution_options(synchronize_session=False))
        with pytest.raises(service.RequestError):
            service.add_comment(made, "¿Y mi respuesta?")
        assert [event.author for event in made.events] == ["customer"]


def test_an_invoice_under_an_older_claim_of_someone_else_leads_to_the_users_own(app):
    with app.app_context():
        user, account = make_customer()
        # Someone else's claim on the contract: its former holder, say.
        other, _ = make_customer(username="titularAnterior", email="antes@ejemplo.mx",
                                 number="5550002")
        [invoice] = make_invoices(account, 1)
        theirs = file(other, account, invoice_id=invoice.id, now=NOON)
        assert Scope.of(user.id).open_claims([invoice.id]) == {invoice.id: theirs}
        mine = file(user, account, invoice_id=invoice.id, now=NOON + timedelta(hours=1))
        file(user, account, invoice_id=invoice.id, text="Otra vez el cargo fijo doble.",
             now=NOON + timedelta(hours=2))
        db.session.commit()
        assert Scope.of(user.id).open_claims([invoice.id]) == {invoice.id: mine}


# --- staff: status changes and notes told to the customer --------------------------------------

def test_a_status_change_tells_the_folio_the_status_and_the_note_with_a_link(app):
    with app.app_context():
        user, account = make_customer()
        made = file(user, account)
        db.session.commit()
        changed = service.set_status(made.folio, "resuelta",
                                     "Corregimos la lectura: te bonificamos $120.00.")
        db.session.commit()
        [notice] = db.session.scalars(select(Notice).where(Notice.user_id == user.id)).all()
        assert notice.title == f"Tu reclamo {made.folio} está resuelta"
        assert notice.body == (
            f"Tu reclamo «Aclaración de factura» (folio {made.folio}) ahora está resuelta. "
            "Gas Natural del Noreste te responde: Corregimos la lectura: te bonificamos "
            "$120.00.")
        [sent] = changed.mails
        assert f"/mi-oficina/solicitudes/{made.id}" in sent.body_text
        assert made.events[-1].author == "staff"


def test_no_mail_when_the_user_did_not_choose_request_mails(app):
    with app.app_context():
        user, account = make_customer()
        user.notify_request = False
        made = file(user, account, now=NOON)
        changed = service.set_status(made.folio, "en-proceso")
        db.session.commit()
        assert changed.mails == []
        assert db.session.scalar(select(db.func.count(Notice.id))) == 1


def test_a_staff_note_alone_keeps_the_status_and_tells_the_customer(app):
    with app.app_context():
        user, account = make_customer()
        made = file(user, account)
        db.session.commit()
        changed = service.add_note(made.folio, "  Necesitamos una foto\nde tu medidor. ")
        second = service.add_note(made.folio, "Ya la recibimos, gracias.")
        db.session.commit()
        assert made.status == "received"
        assert [(e.author, e.status, e.note) for e in made.events[1:]] == [
            ("staff", "received", "Necesitamos una foto\nde tu medidor."),  # lines kept
            ("staff", "received", "Ya la recibimos, gracias.")]
        titles = list(db.session.scalars(select(Notice.title).where(Notice.user_id == user.id)
                                         .order_by(Notice.id)))
        assert titles == [f"Tenemos una respuesta a tu reclamo {made.folio}"] * 2
        assert len(changed.mails) == 1 and len(second.mails) == 1


def test_a_note_on_a_closed_request_or_an_empty_one_is_refused(app):
    with app.app_context():
        user, account = make_customer()
        made = file(user, account, now=NOON)
        with pytest.raises(service.RequestError, match="Escribe la nota"):
            service.add_note(made.folio, "   ")
        with pytest.raises(service.RequestError, match="caracteres de control"):
            service.add_note(made.folio, "Hola\x07")
        service.set_status(made.folio, "cerrada")
        with pytest.raises(service.RequestError, match="ya está cerrada"):
            service.add_note(made.folio, "Otra cosa.")


def test_a_request_filed_by_phone_tells_nobody(app):
    with app.app_context():
        user, account = make_customer()
        made = file(user, account, now=NOON)
        made.user_id = None
        changed = service.set_status(made.folio, "en-proceso", "Revisando.")
        noted = service.add_note(made.folio, "Sigue en revisión.")
        db.session.commit()
        assert changed.mails == [] and noted.mails == []
        assert db.session.scalar(select(db.func.count(Notice.id))) == 0


# --- the command line ----------------------------------------------------------------------------

def run(app, *args):
    return app.test_cli_runner().invoke(args=["requests", *args])


def filed_claim(app, **extra) -> tuple[str, int]:
    """A claim filed on 02/11/2026 at 12:00 in Mexico."""
    with app.app_context():
        user, account = make_customer()
        [invoice] = make_invoices(account, 1)
        made = file(user, account, invoice_id=invoice.id, now=FILED,
                    text="Me cobraron dos veces.\nRevisen, por favor.", **extra)
        db.session.commit()
        return made.folio, made.id


def test_show_prints_where_the_photo_file_is(app):
    with app.app_context():
        user, account = make_customer()
        photo = photos.keep(photos.prepare(BytesIO(images.photo(400, 300))), user_id=user.id,
                            account_id=account.id)
        made = file(user, account, category="meter_review", photo_id=photo.id, now=FILED)
        db.session.commit()
        folio, path = made.folio, photos.path_of(photo)
    shown = run(app, "show", folio)
    assert shown.exit_code == 0, shown.output
    assert f"Foto adjunta: {path}" in shown.output.splitlines()
    assert path.is_file()


def test_list_shows_the_type_and_the_answer_date(app):
    folio, _ = filed_claim(app)
    listed = run(app, "list", "--open")
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith(f"{folio}  recibida  bill_clarification  02/11/2026 12:00  "
                                    "responder antes del 12/11/2026  Nuevo Laredo 8295249-7  ")
    run(app, "update", folio, "--status", "cerrada")
    assert run(app, "list", "--open").output == "No hay solicitudes abiertas.\n"


def test_show_prints_everything_with_the_timeline_and_its_authors(app):
    folio, request_id = filed_claim(app)
    assert run(app, "update", folio, "--status", "en-proceso", "--note", "Lo vemos.").exit_code == 0
    with app.app_context():
        service.add_comment(db.session.get(ServiceRequest, request_id), "Gracias.")
        db.session.commit()
    shown = run(app, "show", folio.lower())
    assert shown.exit_code == 0, shown.output
    out = shown.output
    for line in (f"Folio: {folio}", "Tipo: reclamo · bill_clarification (Aclaración de factura)",
                 "Estado: en proceso", "Responder a más tardar: 12/11/2026",
                 "Contrato: Nuevo Laredo 8295249-7 (Miguel Granados Ylarrañaga)",
                 "Presentada por: un usuario de la Oficina Virtual", "Foto adjunta: no",
                 "  Me cobraron dos veces.", "  Revisen, por favor.", "Seguimiento (3):"):
        assert line in out.splitlines(), (line, out)
    assert "Factura: ZE" in out
    timeline = out.split("Seguimiento (3):\n")[1].splitlines()
    assert [row.split("  ")[2:4] for row in timeline] == [
        ["cliente", "recibida"], ["personal", "en proceso"], ["cliente", "en proceso"]]
    assert timeline[1].endswith("Lo vemos.") and timeline[2].endswith("Gracias.")
    missing = run(app, "show", "SR-2026-999999")
    assert missing.exit_code == 1 and "No hay ninguna solicitud" in missing.output


def test_update_with_a_note_alone_answers_without_moving_it(app):
    folio, _ = filed_claim(app)
    noted = run(app, "update", folio, "--note", "Necesitamos una foto del medidor.")
    assert noted.exit_code == 0, noted.output
    assert noted.output == f"Solicitud {folio}: nota agregada; sigue recibida.\n"
    nothing = run(app, "update", folio)
    assert nothing.exit_code == 1
    assert "Di el estado nuevo con --status, o la respuesta con --note." in nothing.output


def test_export_as_json_lines_and_csv_parse_back_to_the_same_rows(app):
    folio, _ = filed_claim(app)
    with app.app_context():
        user = db.session.scalars(select(ServiceRequest)).one()
        old = service.file_request(user.user_id, user.account_id, "tax_data",
                                   "Necesito mi constancia.",
                                   now=datetime(2026, 10, 1, 18, 0, tzinfo=UTC))
        db.session.commit()
        old_folio = old.folio
    run(app, "update", folio, "--status", "en-proceso")
    as_json = run(app, "export", "--since", "2026-11-01")
    assert as_json.exit_code == 0, as_json.output
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [row["folio"] for row in rows] == [folio]  # the October one is before --since
    [row] = rows
    assert tuple(row) == service.EXPORT_FIELDS
    assert row["creada"] == "2026-11-02T18:00:00+00:00"
    assert datetime.fromisoformat(row["actualizada"]) >= datetime.fromisoformat(row["creada"])
    assert {key: row[key] for key in ("estado", "categoria", "tipo", "zona", "contrato",
                                      "responder_a_mas_tardar", "descripcion", "eventos")} == {
        "estado": "in_progress", "categoria": "bill_clarification", "tipo": "reclamo",
        "zona": "Nuevo Laredo", "contrato": "8295249-7",
        "responder_a_mas_tardar": "2026-11-12",
        "descripcion": "Me cobraron dos veces.\nRevisen, por favor.", "eventos": 2}
    assert row["factura"].startswith("ZE")
    assert "1 solicitudes exportadas." in as_json.stderr

    as_csv = run(app, "export", "--since", "2026-09-01", "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["folio"] for r in parsed] == [old_folio, folio]
    assert tuple(parsed[0]) == service.EXPORT_FIELDS
    assert parsed[0]["factura"] == "" and parsed[0]["tipo"] == "solicitud"
    assert {**parsed[1], "eventos": int(parsed[1]["eventos"])} == {
        key: ("" if value is None else value) for key, value in row.items()}
    for typed in ("01/11/2026", "2026-13-01", "ayer"):
        bad = run(app, "export", "--since", typed)
        assert bad.exit_code == 1
        assert f"La fecha de --since no se entiende: «{typed}». Escríbela como AAAA-MM-DD" in (
            bad.output)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_the_csv_export_defuses_spreadsheet_formulas_and_json_keeps_the_text(app, start):
    with app.app_context():
        user, account = make_customer()
        text = f"{start}HYPERLINK(\"http://ejemplo.mx\") cobro"
        service.file_request(user.id, account.id, "other", text, now=FILED)
        db.session.commit()
    as_csv = run(app, "export", "--since", "2026-11-01", "--format", "csv")
    [row] = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert row["descripcion"] == f"'{text}"
    assert row["estado"] == "received" and row["folio"].startswith("SR-")
    as_json = run(app, "export", "--since", "2026-11-01")
    assert json.loads(as_json.stdout)["descripcion"] == text


def test_a_csv_cell_is_prefixed_only_when_it_starts_a_formula():
    from ov.cli_requests import csv_cell

    assert [csv_cell(v) for v in ("=1+1", "+52", "-3", "@x", "\tx", "\rx", "a=b", "", None,
                                  2)] == ["'=1+1", "'+52", "'-3", "'@x", "'\tx", "'\rx",
                                          "a=b", "", "", 2]
