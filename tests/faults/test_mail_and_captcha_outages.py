"""The mail relay down, and the CAPTCHA provider slow, during a registration.

SMTP down: the customer is registered all the same, the welcome mail waits in the outbox,
and ``flask mail-drain`` sends it once the relay is back: nothing is lost. The CAPTCHA
provider holding its answer: step 1 is refused with "try again" (503) within the configured
read timeout, while the provider still has not answered, and nothing counts against the
contract.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ov import create_app
from ov.extensions import db
from ov.models import OutboxMail, User
from tests.faults.conftest import fault_settings
from tests.support.journeys import SEED, Registration, hidden, zone_id
from tests.support.servers import free_port
from tests.support.siteverify import SiteverifyServer
from tests.support.smtp import smtp_server


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def smtp_portal(portal, own_postgres, own_redis, tmp_path):
    """The portal on the same servers, sending its mail through SMTP to a port where
    nothing listens yet."""
    port = free_port()
    app = create_app(fault_settings(tmp_path, own_postgres, own_redis) | {
        "OV_MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
        "MAIL_TIMEOUT": 5.0})
    yield app, port
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    app.session_interface.client.close()


def test_with_the_relay_down_the_customer_registers_and_the_mail_waits(smtp_portal):
    portal, port = smtp_portal
    done = Registration(portal.test_client(), portal).complete()
    assert done.status_code == 303  # the attempt right after the commit failed, quietly
    with portal.app_context():
        user = db.session.scalars(select(User)).one()
        [waiting] = db.session.scalars(select(OutboxMail)).all()
        assert waiting.sent_at is None and waiting.attempts == 1
        assert waiting.last_error.startswith("ConnectionRefusedError")
        assert waiting.to_address == user.email
        db.session.remove()

    with smtp_server(port) as relay:
        drained = portal.test_cli_runner().invoke(args=["mail-drain"])
    assert drained.exit_code == 0, drained.output
    assert len(relay.messages) == 1
    assert relay.recipients == [[user.email]]
    with portal.app_context():
        assert db.session.scalars(select(OutboxMail)).one().sent_at is not None
        db.session.remove()


@pytest.fixture
def slow_provider(portal, monkeypatch):
    server = SiteverifyServer()
    for key, value in {"OV_CAPTCHA_PROVIDER": "recaptcha", "OV_CAPTCHA_SITE_KEY": "site-key",
                       "OV_CAPTCHA_SECRET": "secret", "OV_CAPTCHA_VERIFY_URL": server.url,
                       "OV_CAPTCHA_CONNECT_TIMEOUT": 2, "OV_CAPTCHA_READ_TIMEOUT": 0.2}.items():
        monkeypatch.setitem(portal.config, key, value)
    # The provider answers only when the test closes it: far past any timeout.
    server.answer({"success": True, "hostname": "127.0.0.1"}, delay=3600)
    yield server
    server.close()


def test_a_slow_captcha_provider_is_refused_within_its_timeout(portal, slow_provider):
    client = portal.test_client()
    answers = []
    for attempt in range(3):
        page = text(client.get("/registro/paso-1"))
        answers.append(client.post("/registro/paso-1", data={
            "csrf_token": hidden(page, "csrf_token"), "zona": str(zone_id(portal)),
            "cuenta": SEED["account"], "factura": SEED["invoice"],
            "g-recaptcha-response": f"resuelto-{attempt}"}))
    for answer in answers:
        assert answer.status_code == 503
        assert "no podemos hacer la verificación de seguridad" in text(answer)
        assert answer.headers["Retry-After"].isdigit()
    # Each was sent to the provider, which has answered none of them yet: the portal did
    # not wait for its answer (it waits an hour), it gave up at its own timeout.
    assert slow_provider.wait_for_requests(3)
    assert len(slow_provider.requests) == 3
