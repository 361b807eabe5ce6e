"""Asking for the password again (ov.blueprints.office.reauth) inside a request: when a session
is fresh, and how a wrong password counts towards the login lock."""

from __future__ import annotations

import pytest
from flask import session

from ov.auth_helpers import STARTED
from ov.blueprints.office import reauth
from ov.extensions import db
from ov.models import AuditEvent, OutboxMail
from ov.services import passwords
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")

START = 1_800_000_000.0


@pytest.fixture
def clock(monkeypatch):
    """The session clock reauth reads, frozen at START; tests move it by hand."""
    moment = [START]
    monkeypatch.setattr(reauth, "now", lambda: moment[0])
    return moment


@pytest.fixture
def request_context(app, clean_db):
    with app.test_request_context("/mi-oficina/datos/correo", method="POST",
                                  environ_base={"REMOTE_ADDR": "192.0.2.7"}):
        yield
        db.session.rollback()
        db.session.remove()


@pytest.mark.usefixtures("request_context")
def test_a_session_is_fresh_for_the_configured_minutes_after_signing_in(app, clock):
    minutes = app.config["OV_REAUTH_MINUTES"]
    session[STARTED] = START
    assert reauth.is_fresh()
    clock[0] = START + minutes * 60 - 1
    assert reauth.is_fresh()
    clock[0] = START + minutes * 60
    assert not reauth.is_fresh()


@pytest.mark.usefixtures("request_context")
def test_a_session_without_a_start_is_never_fresh(clock):
    assert not reauth.is_fresh()
    session[STARTED] = "not a moment"
    assert not reauth.is_fresh()


@pytest.mark.usefixtures("request_context")
def test_the_right_password_makes_the_session_fresh_again(app, clock):
    user, _ = make_customer(password_hash=passwords.hash_password("Tq7mZ2pLx9"))
    session[STARTED] = START
    clock[0] = START + 3600
    assert not reauth.is_fresh()
    assert reauth.check_password(user, "Tq7mZ2pLx9", purpose="email_change") is None
    assert reauth.is_fresh()
    assert user.failed_logins == 0


@pytest.mark.usefixtures("request_context")
def test_an_empty_password_is_asked_for_and_not_counted(app, clock):
    user, _ = make_customer(password_hash=passwords.hash_password("Tq7mZ2pLx9"))
    assert reauth.check_password(user, "", purpose="email_change") == (
        "Escribe tu contraseña actual.")
    assert user.failed_logins == 0


@pytest.mark.usefixtures("request_context")
def test_wrong_passwords_count_towards_the_lock_and_mail_once_at_it(app, clock):
    user, _ = make_customer(password_hash=passwords.hash_password("Tq7mZ2pLx9"))
    db.session.commit()
    limit = app.config["OV_LOGIN_MAX_FAILURES"]
    for attempt in range(1, limit):
        assert reauth.check_password(user, "Incorrecta1", purpose="password_change") == (
            reauth.WRONG)
        assert user.failed_logins == attempt
        assert reauth.pending_mails() == []
    assert reauth.check_password(user, "Incorrecta1", purpose="password_change") == reauth.WRONG
    assert user.locked_until is not None
    mails = reauth.pending_mails()
    assert len(mails) == 1 and mails[0].to_address == "cliente@ejemplo.mx"
    # Locked: every answer is refused, the right one too, and no second mail.
    for answer in ("Incorrecta1", "Tq7mZ2pLx9"):
        message = reauth.check_password(user, answer, purpose="password_change")
        assert message.startswith("Tu usuario está bloqueado")
    assert reauth.pending_mails() == []
    assert not reauth.is_fresh()
    db.session.flush()
    kinds = [event.kind for event in db.session.scalars(
        db.select(AuditEvent).order_by(AuditEvent.id))]
    assert kinds.count("account_locked") == 1
    assert kinds.count("reauth_failed") == limit + 2
    assert db.session.scalar(db.select(db.func.count()).select_from(OutboxMail)) == 1


@pytest.mark.usefixtures("request_context")
def test_a_session_may_give_the_right_password_while_others_locked_the_user(app, clock):
    from datetime import timedelta

    from ov.models import utcnow

    user, _ = make_customer(password_hash=passwords.hash_password("Tq7mZ2pLx9"))
    user.locked_until = utcnow() + timedelta(minutes=15)  # wrong passwords at /entrar
    db.session.commit()
    assert reauth.check_password(user, "Incorrecta1", purpose="email_change") == reauth.WRONG
    assert user.failed_logins == 1  # a wrong answer still counts
    assert reauth.check_password(user, "Tq7mZ2pLx9", purpose="email_change") is None
    assert reauth.is_fresh() and user.locked_until is not None  # the lock stays
    # A session that gave OV_LOGIN_MAX_FAILURES wrong answers guesses no more while locked.
    for _ in range(app.config["OV_LOGIN_MAX_FAILURES"]):
        assert reauth.check_password(user, "Incorrecta1", purpose="email_change") == (
            reauth.WRONG)
    message = reauth.check_password(user, "Tq7mZ2pLx9", purpose="email_change")
    assert message.startswith("Tu usuario está bloqueado")
