"""The ARCO rights without HTTP: the legal dates, the folio, the data download, cancelling a
user and purging the cancelled ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import (
    AccountChange,
    AuditEvent,
    Notice,
    Photo,
    PrivacyRequest,
    ReadingSubmission,
    ServiceRequest,
    ServiceRequestEvent,
    User,
    UserAccount,
)
from ov.services import audit, privacy
from ov.services import auth as auth_service
from ov.services.validation import FieldError
from tests.support.factories import make_customer
from tests.support.queries import counting_queries

pytestmark = pytest.mark.usefixtures("clean_db")

# 05:30 in UTC is still the day before in Mexico City (UTC-6).
NOW = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)


# --- the legal dates ------------------------------------------------------------------------

def test_the_dates_count_from_the_day_in_mexico_city(app):
    with app.app_context():
        answer, carry_out = privacy.legal_dates(NOW)
    assert answer == date(2026, 11, 30) + timedelta(days=20) == date(2026, 12, 20)
    assert carry_out == answer + timedelta(days=15) == date(2027, 1, 4)


def test_the_dates_follow_the_settings(app, monkeypatch):
    monkeypatch.setitem(app.config, "OV_ARCO_ANSWER_DAYS", 5)
    monkeypatch.setitem(app.config, "OV_ARCO_CARRY_OUT_DAYS", 2)
    with app.app_context():
        assert privacy.legal_dates(datetime(2026, 12, 1, 18, tzinfo=UTC)) == (
            date(2026, 12, 6), date(2026, 12, 8))


# --- filing a request -----------------------------------------------------------------------

def test_a_request_gets_a_folio_from_its_row_and_its_dates(app):
    with app.app_context():
        user, _ = make_customer()
        filed = privacy.file_request(user, privacy.PrivacyRight.RECTIFICATION,
                                     "Teléfono\n\nMi teléfono es otro.", client_address="::1",
                                     now=NOW)
        row = filed.request
        assert row.folio == f"ARCO-2026-{row.id:06d}"
        assert (row.answer_due_on, row.carry_out_by) == (date(2026, 12, 20), date(2027, 1, 4))
        assert row.user_id == user.id and row.kind == "rectificacion"
        assert filed.mail.to_address == user.email and row.folio in filed.mail.body_text
        assert "20/12/2026" in filed.mail.body_text and "04/01/2027" in filed.mail.body_text
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "privacy_request_filed")).one()
        assert event.user_id == user.id and event.details == {
            "folio": row.folio, "right": "rectificacion"}


def test_folios_are_unique_and_take_the_year_in_mexico_city(app):
    with app.app_context():
        user, _ = make_customer()
        new_year_eve = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)  # 31/12/2026 21:00 there
        folios = [privacy.file_request(user, privacy.PrivacyRight.OPPOSITION, f"x{n}",
                                       client_address=None, now=new_year_eve).request.folio
                  for n in range(3)]
        assert len(set(folios)) == 3
        assert all(folio.startswith("ARCO-2026-") for folio in folios)
        later = privacy.file_request(user, privacy.PrivacyRight.OPPOSITION, "y",
                                     client_address=None,
                                     now=datetime(2027, 1, 1, 7, tzinfo=UTC)).request
        assert later.folio.startswith("ARCO-2027-")


def test_a_users_requests_are_theirs_only(app):
    with app.app_context():
        user, _ = make_customer()
        other, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                 number="5550001")
        mine = privacy.file_request(user, privacy.PrivacyRight.OPPOSITION, "a",
                                    client_address=None, now=NOW).request
        theirs = privacy.file_request(other, privacy.PrivacyRight.OPPOSITION, "b",
                                      client_address=None, now=NOW).request
        assert privacy.request_of(user.id, theirs.id) is None
        assert privacy.request_of(user.id, mine.id) is mine
        assert privacy.requests_of(user.id) == [mine]


@pytest.mark.parametrize(("raw", "message"), [
    ("", "Escribe"),
    ("   \n ", "Escribe"),
    ("a" * 1001, "hasta 1000 caracteres"),
    ("hola\x00", "caracteres que no se pueden escribir"),
])
def test_the_text_of_a_request_has_limits(raw, message):
    with pytest.raises(FieldError, match=message):
        privacy.clean_text(raw, required="Escribe qué dato hay que corregir.")


def test_the_text_is_trimmed_and_may_be_optional():
    assert privacy.clean_text("  Mi  teléfono \r\n es otro ", required="x") == (
        "Mi  teléfono \n es otro")
    assert privacy.clean_text("", required=None) == ""


def test_the_purposes_to_oppose_are_the_aviso_de_privacidads():
    labels = dict(privacy.PURPOSES)
    assert "Enviarte promociones e información sobre productos y servicios relacionados con el "\
        "gas natural." in labels.values()
    assert "otra" in labels


# --- the download -------------------------------------------------------------------------

def history(user, account, size: int) -> None:
    """``size`` of everything the portal keeps about a user."""
    for n in range(size):
        request = ServiceRequest(folio=f"S-{user.id}-{n}", account_id=account.id,
                                 user_id=user.id, kind="request", subject=f"Asunto {n}",
                                 body="Texto")
        request.events = [ServiceRequestEvent(status="received", note="Recibida"),
                          ServiceRequestEvent(status="in_progress", note="En trámite")]
        db.session.add_all([
            request,
            ReadingSubmission(account_id=account.id, user_id=user.id, read_on=date(2026, 11, 1),
                              value=1000 + n),
            Notice(user_id=user.id, title=f"Aviso {n}", body="Texto"),
            Photo(user_id=user.id, account_id=account.id, stored_name=f"p-{user.id}-{n}.jpg",
                  byte_size=1000 + n, width=1600, height=1200),
        ])
        audit.record("login_succeeded", user_id=user.id, client_address="203.0.113.9")
        privacy.file_request(user, privacy.PrivacyRight.OPPOSITION, f"n{n}",
                             client_address=None, now=NOW)
    db.session.flush()


def test_the_download_holds_everything_and_no_password_hash(app):
    with app.app_context():
        user, account = make_customer(password_hash="$argon2id$secret")
        user.phone = "8112345678"
        history(user, account, 2)
        other, other_account = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                             number="5550001")
        history(other, other_account, 1)
        data = privacy.export(user, now=NOW)
        assert "$argon2id$secret" not in repr(data)
        assert data["usuario"]["usuario"] == "usuPDFactura1"
        assert data["usuario"]["contrasena"].startswith("Guardada cifrada")
        assert data["usuario"]["telefono"] == "8112345678"
        [contract] = data["contratos"]
        assert contract["numero_de_cuenta"] == account.printed_number
        assert contract["zona"] == "Nuevo Laredo"
        assert contract["formato_de_factura"] == "normal"
        assert set(data["preferencias"]) >= {"factura_electronica", "avisos_de_factura"}
        assert len(data["solicitudes"]) == 2
        assert [(e["estado"], e["autor"]) for e in data["solicitudes"][0]["seguimiento"]] == [
            ("received", "portal"), ("in_progress", "portal")]
        assert {"categoria", "factura", "responder_a_mas_tardar_el", "foto"} <= set(
            data["solicitudes"][0])
        assert {"factura", "foto", "confirmada"} <= set(data["lecturas_enviadas"][0])
        assert len(data["lecturas_enviadas"]) == 2
        assert len(data["avisos"]) == 2
        assert [row["bytes"] for row in data["fotos_enviadas"]] == [1000, 1001]
        assert len(data["solicitudes_arco"]) == 2
        assert {e["tipo"] for e in data["eventos_de_seguridad"]} >= {"login_succeeded"}
        assert all(e["direccion_ip"] in {"203.0.113.9", None}
                   for e in data["eventos_de_seguridad"])
        counts = privacy.counts(user.id)
        assert counts == {"contratos": 1, "solicitudes": 2, "lecturas_enviadas": 2,
                          "fotos_enviadas": 2, "avisos": 2, "solicitudes_arco": 2,
                          "cambios_de_acceso": 0,
                          "correos_enviados": len(data["correos_enviados"]),
                          "eventos_de_seguridad": len(data["eventos_de_seguridad"])}
        assert counts["correos_enviados"] == 2  # the two requests' mails to the user


def test_the_download_runs_the_same_queries_whatever_the_history(app):
    sizes = []
    for size in (1, 12):
        with app.app_context():
            user, account = make_customer(username=f"usuario{size:03d}",
                                          email=f"c{size}@ejemplo.mx", number=f"7{size:06d}")
            history(user, account, size)
            db.session.commit()
            user_id = user.id
            db.session.remove()
        with counting_queries(app) as statements, app.app_context():
            user = db.session.get(User, user_id)
            data = privacy.export(user, now=NOW)
            privacy.counts(user_id)
        assert len(data["avisos"]) == size
        sizes.append(len(statements))
    assert sizes[0] == sizes[1]


# --- cancelling and purging ---------------------------------------------------------------

def test_cancelling_blocks_unlinks_and_tells_the_user(app):
    with app.app_context():
        user, account = make_customer()
        done = privacy.cancel(user, client_address="::1", now=NOW)
        assert user.blocked_at == NOW
        assert user.delete_after == NOW + timedelta(days=30)
        assert db.session.scalars(select(UserAccount).where(
            UserAccount.user_id == user.id)).all() == []
        assert done.request.kind == "cancelacion" and done.request.user_id == user.id
        assert done.request.folio in done.mail.body_text
        assert "30/12/2026" in done.mail.body_text  # deleted from that day (Mexico City)
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "user_cancelled")).one()
        assert event.details["folio"] == done.request.folio
        assert event.details["account_ids"] == [account.id]


def test_a_blocked_user_cannot_sign_in_or_recover_by_email(app):
    from ov.services import passwords

    with app.app_context():
        user, _ = make_customer(password_hash=passwords.hash_password("Tq7mZ2pLx9"))
        assert auth_service.find_user(user.username) is user
        privacy.cancel(user, client_address=None, now=NOW)
        db.session.flush()
        assert auth_service.find_user(user.username) is None
        outcome = auth_service.authenticate(user.username, "Tq7mZ2pLx9", client_address=None)
        assert not outcome.ok and user.failed_logins == 0
        assert auth_service.request_reset(user.email, client_address=None) == []
        assert auth_service.user_for_reset(auth_service.reset_token(user)) is None


def test_the_purge_deletes_only_users_past_their_date_and_keeps_the_records(app):
    with app.app_context():
        user, account = make_customer()
        history(user, account, 1)
        # An old change, closed (an open one would refuse the cancellation).
        db.session.add(AccountChange(user_id=user.id, kind="email", notified_email="a@b.mx",
                                     created_at=datetime.now(UTC) - timedelta(days=8)))
        kept, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                number="5550001")
        later, _ = make_customer(username="otraPersona3", email="otra3@ejemplo.mx",
                                 number="5550002")
        privacy.cancel(user, client_address=None, now=NOW)
        privacy.cancel(later, client_address=None, now=NOW + timedelta(days=2))
        user_id = user.id
        db.session.commit()
        day_after = NOW + timedelta(days=30, seconds=1)
        assert privacy.purge_cancelled(now=NOW + timedelta(days=29)) == 0
        assert privacy.purge_cancelled(now=day_after) == 1
        assert privacy.purge_cancelled(now=day_after) == 0  # safe to run again
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(User, user_id) is None
        assert db.session.get(User, kept.id) is not None
        assert db.session.get(User, later.id) is not None
        assert db.session.scalars(select(Notice).where(Notice.user_id == user_id)).all() == []
        assert db.session.scalars(select(AccountChange)).all() == []
        for model in (PrivacyRequest, ServiceRequest, ReadingSubmission):
            rows = db.session.scalars(select(model)).all()
            assert rows and all(row.user_id is None for row in rows
                                if row.user_id not in (later.id,)), model
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "login_succeeded")).all()
        assert events and all(event.user_id is None for event in events)
        purged = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "cancelled_users_purged")).all()
        assert [event.details["count"] for event in purged] == [1]


def test_the_purge_command_prints_how_many_it_deleted(app):
    with app.app_context():
        user, _ = make_customer()
        privacy.cancel(user, client_address=None, now=NOW - timedelta(days=31))
        db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["purge-cancelled"])
    assert first.exit_code == 0 and first.output.strip() == "Deleted 1 cancelled users."
    again = runner.invoke(args=["purge-cancelled"])
    assert again.output.strip() == "Deleted 0 cancelled users."


# --- review fixes ---------------------------------------------------------------------------

def test_pasted_format_characters_are_kept_and_control_ones_refused():
    # A soft hyphen and an emoji joined by a zero-width joiner (Cf) are what people paste.
    assert privacy.clean_text("Grana\u00addos 👩\u200d👩\u200d👧", required="x") == (
        "Grana\u00addos 👩\u200d👩\u200d👧")
    for raw in ("hola\x07", "hola\U000e0080"):  # a control character, an unassigned one
        with pytest.raises(FieldError, match="caracteres que no se pueden escribir"):
            privacy.clean_text(raw, required="x")


def test_a_cancelled_user_gets_no_notices(app):
    from ov.services import notices

    with app.app_context():
        user, _ = make_customer()
        privacy.cancel(user, client_address=None, now=NOW)
        assert notices.remind_unconfirmed_email(user) is None
        assert db.session.scalars(select(Notice).where(Notice.user_id == user.id)).all() == []


def test_the_privacy_office_lists_and_updates_requests(app):
    with app.app_context():
        user, _ = make_customer()
        filed = privacy.file_request(user, privacy.PrivacyRight.OPPOSITION, "Finalidad: x",
                                     client_address=None, now=NOW)
        assert filed.office.to_address == app.config["OV_PRIVACY_EMAIL"]
        folio = filed.request.folio
        db.session.commit()
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["privacy", "list", "--open"])
    assert listed.exit_code == 0 and folio in listed.output and "Oposición" in listed.output
    assert "usuPDFactura1" in listed.output and "20/12/2026" in listed.output
    done = runner.invoke(args=["privacy", "update", folio, "--status", "resuelta",
                               "--note", "Ya no enviamos encuestas."])
    assert done.exit_code == 0 and done.output.strip() == f"Solicitud {folio}: ahora está Atendida."
    assert runner.invoke(args=["privacy", "list", "--open"]).output.strip() == (
        "No hay solicitudes abiertas.")
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "privacy_request_status")).all()
        assert event.details["note"] == "Ya no enviamos encuestas."
    bad = runner.invoke(args=["privacy", "update", folio, "--status", "lista"])
    assert bad.exit_code == 1 and "No conozco el estado «lista»" in bad.output
    missing = runner.invoke(args=["privacy", "update", "ARCO-2026-999999", "--status",
                                  "cerrada"])
    assert missing.exit_code == 1 and "No hay ninguna solicitud con el folio" in missing.output
