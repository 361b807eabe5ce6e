"""The reset mail through a real SMTP server, and through the outbox when SMTP is down."""

from __future__ import annotations

import pytest

from ov.extensions import db
from ov.services import auth, mail, passwords
from tests.support.factories import make_customer
from tests.unit.test_mail import outbox_rows, smtp_app, smtp_server  # noqa: F401

pytestmark = pytest.mark.usefixtures("clean_db")


def queue_reset(app):
    with app.test_request_context("/", headers={"Host": "atacante.example"}):
        make_customer(email="josé.núñez@ejemplo.mx",
                      password_hash=passwords.hash_password("Tq7mZ2pLx9"))
        mails = auth.request_reset("josé.núñez@ejemplo.mx", client_address="127.0.0.1")
        db.session.commit()
        return [row.id for row in mails]


def test_a_reset_mail_reaches_a_real_smtp_server_whole(smtp_app):  # noqa: F811
    with smtp_server(smtp_app.config["TEST_SMTP_PORT"]) as server:
        ids = queue_reset(smtp_app)
        with smtp_app.app_context():
            assert mail.deliver(ids=ids) == mail.DeliveryReport(sent=1)
            stored = outbox_rows()[0]
    (message,) = server.messages
    assert message["Subject"] == "Recupera el acceso a tu Oficina Virtual"
    assert message["To"] == "josé.núñez@ejemplo.mx"
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert text == stored.body_text
    assert "Tu usuario es: usuPDFactura1" in text
    assert "http://127.0.0.1:5000/recuperar/enlace/" in text and "atacante" not in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert 'href="http://127.0.0.1:5000/recuperar/enlace/' in html


def test_with_smtp_down_the_reset_mail_waits_for_the_drain(smtp_app):  # noqa: F811
    ids = queue_reset(smtp_app)
    with smtp_app.app_context():
        assert mail.deliver(ids=ids).failed == 1
        assert outbox_rows()[0].sent_at is None
    with smtp_server(smtp_app.config["TEST_SMTP_PORT"]) as server:
        result = smtp_app.test_cli_runner().invoke(args=["mail-drain"])
    assert result.exit_code == 0, result.output
    assert len(server.messages) == 1
    with smtp_app.app_context():
        assert outbox_rows()[0].sent_at is not None
