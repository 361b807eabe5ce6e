"""Nobody elsewhere can keep the owner out: device cookies, locks and limits (OWASP's
device-cookie pattern), and typed usernames that never reach the audit table readable."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import AuditEvent, OutboxMail, User
from ov.services import passwords
from tests.support.factories import make_customer
from tests.support.journeys import PASSWORD, hidden, sign_in

pytestmark = pytest.mark.usefixtures("clean_db")

OWNER = "usuPDFactura1"
DEVICE = "ov_device"
NEW_PASSWORD = "Rk4vW8nQz3"


@pytest.fixture
def owner(app) -> int:
    with app.app_context():
        user, _account = make_customer(password_hash=passwords.hash_password(PASSWORD))
        db.session.commit()
        return user.id


def text(response) -> str:
    return response.get_data(as_text=True)


def attempt(client, username: str = OWNER, password: str = "Equivocada1"):
    token = hidden(text(client.get("/entrar")), "csrf_token")
    return client.post("/entrar", data={"csrf_token": token, "usuario": username,
                                        "contrasena": password})


def trusted_browser(app, username: str = OWNER, password: str = PASSWORD):
    """A browser where the customer signed in once, and then signed out."""
    browser = app.test_client()
    assert sign_in(browser, username, password).status_code == 303
    token = hidden(text(browser.get("/")), "csrf_token")
    browser.post("/salir", data={"csrf_token": token})
    return browser


def attack(app, times: int, username: str = OWNER) -> list[int]:
    """Wrong passwords from a client that never signed in (the same address as everyone)."""
    attacker = app.test_client()
    return [attempt(attacker, username).status_code for _ in range(times)]


def locked_until(app, user_id: int):
    with app.app_context():
        return db.session.get(User, user_id).locked_until


def mails(app, subject_start: str) -> list[OutboxMail]:
    with app.app_context():
        rows = [m for m in db.session.scalars(select(OutboxMail).order_by(OutboxMail.id))
                if m.subject.startswith(subject_start)]
        for row in rows:
            db.session.expunge(row)
        return rows


def scrub(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', "", html)


# --- typed usernames in the audit trail ------------------------------------------------------

def test_a_password_typed_as_username_never_reaches_the_audit_table(app, owner):
    attempt(app.test_client(), "Secreto2024")
    attempt(app.test_client(), "SECRETO2024")
    attempt(app.test_client(), "Otrotexto99")
    with app.app_context():
        rows = list(db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "login_failed").order_by(AuditEvent.id)
        ))
        stored = [json.dumps(row.details) for row in rows]
    assert len(stored) == 3
    for row in stored:
        assert "secreto2024" not in row.casefold() and "otrotexto99" not in row.casefold()
    hashes = [json.loads(row)["username_hash"] for row in stored]
    assert hashes[0] == hashes[1] != hashes[2]  # attempts with the same text still correlate


def test_the_username_hash_is_keyed_by_the_secret_key(app, tmp_path):
    from ov import create_app
    from ov.services import auth
    from tests.conftest import settings_for

    other = create_app({**settings_for(tmp_path), "SECRET_KEY": "another-secret-key"})
    with app.app_context():
        ours = auth.audit_username("Secreto2024")
    with other.app_context():
        theirs = auth.audit_username("Secreto2024")
    assert ours["username_hash"] != theirs["username_hash"]


def test_a_known_username_is_audited_as_its_user_id(app, owner):
    attempt(app.test_client())
    with app.app_context():
        (row,) = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "login_failed"))
        assert row.user_id == owner
        assert OWNER.casefold() not in json.dumps(row.details).casefold()
