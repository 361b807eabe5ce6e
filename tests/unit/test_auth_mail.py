"""The reset mail through a real SMTP server, through the outbox when SMTP is down, and into
``instance/mail/`` as ``.eml`` files with the default settings."""

from __future__ import annotations

import email
import re
from email.policy import default as default_policy
from pathlib import Path

import pytest

from ov import create_app
from ov.extensions import db
from ov.services import auth, mail, passwords
from tests.conftest import TEST_DATABASE_URL, reset_schema, settings_for
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


@pytest.fixture
def default_mail_app(tmp_path, monkeypatch):
    """An app with the mail settings a fresh checkout has (nothing said about mail)."""
    monkeypatch.delenv("OV_MAIL_BACKEND", raising=False)
    settings = settings_for(tmp_path / "instance")
    del settings["OV_MAIL_BACKEND"]
    application = create_app(settings)
    if not TEST_DATABASE_URL:
        reset_schema(application)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_by_default_each_mail_is_an_eml_file_in_instance_mail(default_mail_app):
    app = default_mail_app
    folder = Path(app.instance_path) / "mail"
    assert app.config["OV_MAIL_BACKEND"] == "file"
    assert Path(app.config["MAIL_FILE_PATH"]) == folder
    ids = queue_reset(app)
    with app.app_context():
        user = auth.find_user("usuPDFactura1")
        second = mail.queue_confirm_email(user)
        db.session.commit()
        ids.append(second.id)
        assert mail.deliver(ids=ids) == mail.DeliveryReport(sent=2)
    files = sorted(folder.iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]  # one whole file per mail
    messages = [email.message_from_bytes(path.read_bytes(), policy=default_policy)
                for path in files]
    (reset,) = [m for m in messages if m["Subject"] == "Recupera el acceso a tu Oficina Virtual"]
    assert reset["To"] == "josé.núñez@ejemplo.mx"
    text = reset.get_body(preferencelist=("plain",)).get_content()
    assert "Tu usuario es: usuPDFactura1" in text
    link = re.search(r"http://127\.0\.0\.1:5000(/recuperar/enlace/\S+)", text)
    assert link, text
    # The link in the file works: it leads to the new-password form.
    client = app.test_client()
    opened = client.get(link.group(1))
    assert opened.status_code == 303 and opened.location == "/recuperar/nueva-contrasena"
