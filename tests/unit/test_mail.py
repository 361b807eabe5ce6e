"""The mail outbox: queued in the caller's transaction, delivered to a real SMTP server."""

from __future__ import annotations

import re
import smtplib
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from flask_mailman.backends.base import BaseEmailBackend
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError

from ov import create_app
from ov.extensions import db
from ov.models import Account, OutboxMail, User
from ov.services import mail
from tests.conftest import TEST_DATABASE_URL, reset_schema, settings_for
from tests.support import factories
from tests.support.smtp import free_port, smtp_server

pytestmark = pytest.mark.usefixtures("clean_db")

CUSTOMER = SimpleNamespace(username="usuPDFactura1")
CONFIRM = "https://oficinavirtual.example/confirmar-correo/abc"


def queue_one(to: str = "cliente@ejemplo.mx") -> OutboxMail:
    return mail.queue(
        to, "Confirma tu correo electrónico", "confirm_email", user=CUSTOMER, confirm_url=CONFIRM
    )


def outbox_rows() -> list[OutboxMail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def sent_messages(app) -> list:
    return app.extensions["mailman"].outbox


@pytest.fixture(autouse=True)
def empty_locmem(app):
    app.extensions["mailman"].outbox = []
    yield
    app.extensions["mailman"].outbox = []


def make_customer() -> tuple[User, Account]:
    return factories.make_customer(email="jose.nunez@ejemplo.mx")


# --- the outbox is part of the caller's transaction ---------------------------------------

def test_a_rolled_back_transaction_sends_nothing(app):
    with app.app_context():
        row = queue_one()
        assert row in db.session.new
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0
        assert mail.deliver() == mail.DeliveryReport()
    assert sent_messages(app) == []


def test_deliver_sends_once_and_marks_sent(app):
    with app.app_context():
        queue_one("primero@ejemplo.mx")
        queue_one("segundo@ejemplo.mx")
        db.session.commit()
        report = mail.deliver()
        assert report == mail.DeliveryReport(sent=2, failed=0, deferred=0)
        rows = outbox_rows()
        assert all(row.sent_at is not None and row.attempts == 0 for row in rows)
        assert mail.deliver() == mail.DeliveryReport()  # nothing left: nothing sent twice
    messages = sent_messages(app)
    assert [m.to for m in messages] == [["primero@ejemplo.mx"], ["segundo@ejemplo.mx"]]
    assert messages[0].subject == "Confirma tu correo electrónico"


def test_deliver_takes_only_the_given_ids_and_honours_the_limit(app):
    with app.app_context():
        rows = [queue_one(f"c{n}@ejemplo.mx") for n in range(3)]
        db.session.commit()
        ids = [row.id for row in rows]
        assert mail.deliver(ids=[ids[2]]).sent == 1
        assert mail.deliver(limit=1).sent == 1
        assert [row.sent_at is not None for row in outbox_rows()] == [True, False, True]


def test_deliver_soon_skips_mails_that_were_never_saved(app):
    with app.app_context():
        row = queue_one()
        report = mail.deliver_soon([row])  # the caller forgot to commit
        assert report.sent == 0
        db.session.rollback()
    assert sent_messages(app) == []


def test_deliver_soon_never_raises_even_if_the_database_fails(app, monkeypatch):
    def broken(**_kwargs):
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    with app.app_context():
        row = queue_one()
        db.session.commit()
        monkeypatch.setattr(mail, "deliver", broken)
        report = mail.deliver_soon(row)
        assert report.deferred == 1


def test_queue_refuses_header_injection_and_missing_context(app):
    with app.app_context():
        with pytest.raises(ValueError):
            queue_one("a@ejemplo.mx\nBcc: b@ejemplo.mx")
        with pytest.raises(ValueError):
            mail.queue("a@ejemplo.mx", "Hola\r\nBcc: x", "confirm_email", user=CUSTOMER,
                       confirm_url=CONFIRM)
        with pytest.raises(TypeError, match="confirm_url"):
            mail.queue("a@ejemplo.mx", "Hola", "confirm_email", user=CUSTOMER)
        db.session.rollback()


class RecordingBackend(BaseEmailBackend):
    """Remembers the Message-ID of everything it sends."""

    delivered: list[str] = []

    def send_messages(self, messages):
        for message in messages:
            RecordingBackend.delivered.append(message.extra_headers["Message-ID"])
        return len(messages)


def test_two_drains_at_once_never_send_a_mail_twice(app, monkeypatch):
    monkeypatch.setattr(app.extensions["mailman"], "backend", RecordingBackend)
    RecordingBackend.delivered = []
    with app.app_context():
        for n in range(6):
            queue_one(f"c{n}@ejemplo.mx")
        db.session.commit()
    # Neither drain sends before both have listed the same six mails: they compete for each.
    both_listed = threading.Barrier(2, timeout=30)
    listed: list[int] = []
    real_pending = mail._pending_ids

    def pending(session, ids, limit):
        found = real_pending(session, ids, limit)
        listed.append(len(found))
        both_listed.wait()
        return found

    monkeypatch.setattr(mail, "_pending_ids", pending)
    reports, errors = [], []

    def drain():
        try:
            with app.app_context():
                reports.append(mail.deliver())
        except Exception as exc:  # surfaced below instead of dying in the thread
            errors.append(exc)

    workers = [threading.Thread(target=drain) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert errors == [] and listed == [6, 6]
    assert sorted(RecordingBackend.delivered) == sorted(set(RecordingBackend.delivered))
    assert len(RecordingBackend.delivered) == 6
    assert sum(report.sent for report in reports) == 6


# --- links and texts ----------------------------------------------------------------------

def test_external_url_ignores_a_forged_host(app, monkeypatch):
    with app.test_request_context("/", base_url="http://atacante.example"):
        assert mail.external_url("account.email_confirmed") == (
            "http://127.0.0.1:5000/correo-confirmado"
        )
        token_url = mail.external_url("account.confirm_email", token="a.b-c", _anchor="x")
        assert token_url == "http://127.0.0.1:5000/confirmar-correo/a.b-c#x"
        assert mail.external_path("/recuperar") == "http://127.0.0.1:5000/recuperar"
    monkeypatch.setitem(app.config, "OV_PUBLIC_URL", "https://oficina.example/portal/")
    with app.test_request_context(
        "/", headers={"Host": "atacante.example", "X-Forwarded-Host": "atacante.example"}
    ):
        assert mail.external_url("account.email_confirmed") == (
            "https://oficina.example/portal/correo-confirmado"
        )
        assert mail.external_path("recuperar") == "https://oficina.example/portal/recuperar"
    monkeypatch.setitem(app.config, "OV_PUBLIC_URL", "oficina.example")
    with app.app_context(), pytest.raises(RuntimeError, match="OV_PUBLIC_URL"):
        mail.external_url("help.home")


def test_a_mail_queued_during_a_forged_request_links_to_the_public_url(app):
    with app.test_request_context("/", headers={"Host": "atacante.example"}):
        user, _account = make_customer()
        row = mail.queue_welcome(user)
        assert "atacante" not in row.body_text + (row.body_html or "")
        assert "http://127.0.0.1:5000/confirmar-correo/" in row.body_text
        db.session.rollback()


def test_times_are_shown_in_mexico_city():
    assert mail.local_datetime(datetime(2026, 1, 15, 18, 5, tzinfo=UTC)) == "15/01/2026 12:05"
    assert mail.validity_text(7 * 86400) == "7 días"
    assert mail.validity_text(86400) == "1 día"
    assert mail.validity_text(6 * 3600) == "6 horas"


FOOTER_END = [
    "Gas Natural del Noreste · Oficina Virtual",
    "Atención al cliente: 800 000 2424",
    "Gas Natural del Noreste nunca te pedirá tu contraseña por correo electrónico ni por "
    "teléfono. Si alguien te la pide, no la compartas.",
]


def test_the_three_mails_say_what_they_must(app):
    with app.app_context():
        user, account = make_customer()
        welcome = mail.queue_welcome(user)
        attempt = mail.queue_registration_attempt(
            user, account, at=datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
        )
        resend = mail.queue_confirm_email(user)
        for row in (welcome, attempt, resend):
            assert row.to_address == "jose.nunez@ejemplo.mx"
            assert row.body_text.rstrip().splitlines()[-3:] == FOOTER_END
            assert "usuPDFactura1" in row.body_text
            html = row.body_html
            assert html.startswith("<!doctype html>") and '<html lang="es-MX">' in html
            assert re.search(r"<(img|script|style|link|iframe)\b", html) is None
            assert " src=" not in html and " style=" not in html
            assert "nunca te pedirá tu contraseña" in html and "800 000 2424" in html
        assert "Nuevo Laredo, cuenta 8295249-7" in welcome.body_text
        assert "http://127.0.0.1:5000/confirmar-correo/" in welcome.body_text
        assert "7 días" in welcome.body_text
        assert "Fecha y hora: 01/03/2026 19:30" in attempt.body_text
        assert "No cambió nada" in attempt.body_text
        assert "http://127.0.0.1:5000/recuperar" in attempt.body_text
        assert "Si no fuiste tú, no tienes que hacer nada" in attempt.body_text
        assert "Nuevo Laredo, cuenta 8295249-7" in attempt.body_text
        assert "http://127.0.0.1:5000/confirmar-correo/" in resend.body_text
        db.session.rollback()


def test_errors_are_stored_short_and_without_credentials(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_PASSWORD", "s3cr3t-pw")
    error = smtplib.SMTPAuthenticationError(535, b"5.7.8 rejected s3cr3t-pw\r\n" + b"x" * 500)
    with app.app_context():
        text = mail._describe(error)
    assert "s3cr3t-pw" not in text and "***" in text
    assert len(text) <= mail.MAX_ERROR_LENGTH and "\n" not in text


# --- a real SMTP server -------------------------------------------------------------------

@pytest.fixture
def smtp_app(tmp_path):
    """An app of its own that sends through SMTP to 127.0.0.1:<port> (no server yet)."""
    port = free_port()
    application = create_app(
        settings_for(tmp_path)
        | {
            "OV_MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_TIMEOUT": 5.0,
        }
    )
    if not TEST_DATABASE_URL:  # PostgreSQL: the session's schema is shared, keep it
        reset_schema(application)
    application.config["TEST_SMTP_PORT"] = port
    yield application
    with application.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(delete(OutboxMail))
        db.engine.dispose()


def test_a_real_smtp_server_receives_the_whole_message(smtp_app):
    with smtp_server(smtp_app.config["TEST_SMTP_PORT"]) as server, smtp_app.app_context():
        row = queue_one("josé.núñez@ejemplo.mx")
        db.session.commit()
        report = mail.deliver_soon([row])
        assert report == mail.DeliveryReport(sent=1)
        stored = outbox_rows()[0]
        assert stored.sent_at is not None and stored.last_error is None
    assert len(server.messages) == 1
    message = server.messages[0]
    assert message["Subject"] == "Confirma tu correo electrónico"
    assert message["To"] == "josé.núñez@ejemplo.mx"
    assert message["From"] == "Oficina Virtual <no-responder@oficinavirtual.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].startswith(f"<ov-outbox-{stored.id}-")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert text.replace("\r\n", "\n") == stored.body_text  # CRLF on the wire
    assert "confirmar tu correo electrónico" in text and CONFIRM in text
    assert "contraseña" in text and "Atención al cliente" in text
    assert f'<a href="{CONFIRM}">' in html and "Ábrelo" in html


def test_with_the_server_down_the_mail_waits_and_the_drain_sends_it_later(smtp_app):
    port = smtp_app.config["TEST_SMTP_PORT"]
    runner = smtp_app.test_cli_runner()
    with smtp_app.app_context():
        row = queue_one()
        db.session.commit()
        report = mail.deliver()
        assert report == mail.DeliveryReport(sent=0, failed=1)
        stored = outbox_rows()[0]
        assert stored.sent_at is None and stored.attempts == 1
        assert stored.last_error.startswith("ConnectionRefusedError")
        assert mail.deliver_soon([row]).failed == 1  # a view's attempt: no exception either

    down = runner.invoke(args=["mail-drain"])
    assert down.exit_code == 1, down.output
    assert "0 sent, 1 failed" in down.output

    with smtp_server(port) as server:
        up = runner.invoke(args=["mail-drain", "--limit", "10"])
    assert up.exit_code == 0, up.output
    assert "1 sent, 0 failed" in up.output
    assert len(server.messages) == 1
    with smtp_app.app_context():
        stored = outbox_rows()[0]
        assert stored.sent_at is not None and stored.attempts == 3 and stored.last_error is None


def test_a_refused_recipient_does_not_stop_the_others(smtp_app):
    with smtp_server(smtp_app.config["TEST_SMTP_PORT"]) as server, smtp_app.app_context():
        queue_one("rechazado@ejemplo.mx")
        queue_one("cliente@ejemplo.mx")
        db.session.commit()
        assert mail.deliver() == mail.DeliveryReport(sent=1, failed=1)
        refused, accepted = outbox_rows()
        assert refused.sent_at is None and refused.attempts == 1
        assert "SMTPRecipientsRefused" in refused.last_error
        assert accepted.sent_at is not None
    assert server.recipients == [["cliente@ejemplo.mx"]]


def test_an_unreachable_server_stops_the_run_after_two_tries(smtp_app):
    with smtp_app.app_context():
        for n in range(5):
            queue_one(f"c{n}@ejemplo.mx")
        db.session.commit()
        assert mail.deliver() == mail.DeliveryReport(sent=0, failed=2, deferred=3)
        assert [row.attempts for row in outbox_rows()] == [1, 1, 0, 0, 0]
