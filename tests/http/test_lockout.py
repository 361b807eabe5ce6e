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
    """A page without its per-request values (the CSRF token, the incident number)."""
    html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
    return re.sub(r"Número de incidente: <strong>[^<]*</strong>", "", html)


# --- the owner's browser keeps its own allowance ---------------------------------------------

def test_an_attackers_hundred_wrong_passwords_do_not_keep_the_owner_out(app, owner):
    browser = trusted_browser(app)
    codes = attack(app, 100)
    assert set(codes) == {422, 429} and codes[:5] == [422] * 5
    assert locked_until(app, owner) is not None  # untrusted clients stay locked out
    told = mails(app, "Bloqueamos")  # and the owner is told, truly: known browsers still work
    assert len(told) >= 1
    for body in (told[0].body_text, told[0].body_html):
        assert "En los navegadores donde ya entraste antes puedes seguir entrando" in body
        assert "Si cambias tu contraseña, esos navegadores cuentan como nuevos" in body
    assert sign_in(browser, OWNER).status_code == 303
    assert "Desconectar" in text(browser.get("/"))
    # The owner's success does not open the door again for the attacker.
    assert locked_until(app, owner) is not None
    assert attack(app, 1) == [429]
    refused = attempt(app.test_client(), OWNER, PASSWORD)
    assert refused.status_code == 429
    # The owner on a new browser is shown the way in that needs no waiting.
    assert 'href="/recuperar">No recuerdo mi usuario y/o contraseña</a>' in text(refused)


def test_the_device_cookie_is_httponly_lax_and_long_lived(app, owner):
    browser = app.test_client()
    response = sign_in(browser, OWNER)
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(DEVICE + "=")]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "SameSite=Lax" in header and "Path=/" in header
    max_age = int(re.search(r"Max-Age=(\d+)", header).group(1))
    assert max_age == app.config["OV_LOGIN_DEVICE_DAYS"] * 86400 >= 180 * 86400
    # Nothing in it says who the customer is: an id and a random nonce, signed.
    assert OWNER.casefold() not in header.casefold()


def test_in_production_the_device_cookie_is_secure_with_the_host_prefix(tmp_path):
    from ov import create_app
    from tests.conftest import production_settings

    production = create_app(production_settings(tmp_path))
    from ov import auth_helpers

    with production.test_request_context("/entrar", base_url="https://oficina.example"):
        auth_helpers.trust_device(User(id=7, username="x", password_hash="x", email="x"))
        response = auth_helpers.send_device_cookie(production.make_response(""))
    (header,) = response.headers.getlist("Set-Cookie")
    assert header.startswith("__Host-ov_device=")
    assert "; Secure" in header and "; HttpOnly" in header and "; Path=/" in header
    assert "Domain" not in header and "SameSite=Lax" in header


def failures(app, user_id: int) -> int:
    with app.app_context():
        return db.session.get(User, user_id).failed_logins


def test_a_device_that_uses_up_its_allowance_counts_as_an_unknown_browser(
    app, owner, monkeypatch
):
    monkeypatch.setitem(app.config, "OV_LOGIN_DEVICE_MAX_FAILURES", 3)
    browser = trusted_browser(app)
    assert [attempt(browser).status_code for _ in range(3)] == [422] * 3
    assert failures(app, owner) == 0  # its own allowance: the lock did not move
    # A copy of the cookie in another client shares that one allowance: it is used up.
    thief = app.test_client()
    thief.set_cookie(DEVICE, browser.get_cookie(DEVICE).value)
    assert attempt(thief).status_code == 422
    assert failures(app, owner) == 1  # counted like any unknown browser's
    assert [attempt(browser).status_code for _ in range(4)] == [422] * 4
    assert locked_until(app, owner) is not None  # and so it runs into the lock like them
    assert attempt(browser, OWNER, PASSWORD).status_code == 422
    with app.app_context():
        kinds = [(e.kind, e.details.get("device")) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind.like("login_%")).order_by(AuditEvent.id))]
    assert kinds.count(("login_failed", True)) == 3  # the device's own failures are audited
    assert len(mails(app, "Bloqueamos")) == 1  # and the rest reach the owner with the lock


def test_a_success_on_a_used_up_device_gives_it_a_fresh_allowance(app, owner, monkeypatch):
    monkeypatch.setitem(app.config, "OV_LOGIN_DEVICE_MAX_FAILURES", 2)
    browser = trusted_browser(app)
    spent = browser.get_cookie(DEVICE).value
    assert [attempt(browser).status_code for _ in range(3)] == [422] * 3
    assert failures(app, owner) == 1
    assert sign_in(browser, OWNER).status_code == 303  # not locked: it gets in as anyone does
    assert browser.get_cookie(DEVICE).value != spent
    token = hidden(text(browser.get("/")), "csrf_token")
    browser.post("/salir", data={"csrf_token": token})
    attack(app, 20)
    assert sign_in(browser, OWNER).status_code == 303  # trusted again, with its own allowance


def test_a_device_failure_still_costs_one_real_verification(app, owner, monkeypatch):
    browser = trusted_browser(app)
    attack(app, 5)
    calls = []
    real_verify, real_dummy = passwords.verify_password, passwords.verify_dummy
    monkeypatch.setattr(passwords, "verify_password",
                        lambda *args: calls.append("real") or real_verify(*args))
    monkeypatch.setattr(passwords, "verify_dummy",
                        lambda pw: calls.append("dummy") or real_dummy(pw))
    assert attempt(browser).status_code == 422
    assert calls == ["real"]


# --- cookies that give nothing ---------------------------------------------------------------

def test_a_forged_tampered_or_other_users_device_cookie_gives_no_allowance(app, owner):
    with app.app_context():
        make_customer(username="vecinoDeAl1", email="vecino@ejemplo.mx", number="1234567",
                      password_hash=passwords.hash_password(PASSWORD))
        db.session.commit()
    neighbour = trusted_browser(app, "vecinoDeAl1")
    genuine = trusted_browser(app).get_cookie(DEVICE).value
    attack(app, 20)
    assert locked_until(app, owner) is not None
    payload, rest = genuine.split(".", 1)
    candidates = {
        "another user's": neighbour.get_cookie(DEVICE).value,
        "tampered": payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest,
        "forged": _signed_with(app, "not-our-secret", genuine),
        "garbage": "x" * 600,
    }
    for name, value in candidates.items():
        client = app.test_client()
        client.set_cookie(DEVICE, value)
        assert attempt(client, OWNER, PASSWORD).status_code == 429, name
        assert "Desconectar" not in text(client.get("/")), name


def _signed_with(app, secret: str, genuine: str) -> str:
    """The genuine cookie's payload signed with another key (what a forger can make)."""
    from itsdangerous import URLSafeTimedSerializer

    from ov.services import tokens

    with app.app_context():
        payload = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=tokens.LOGIN_DEVICE
                                         ).loads(genuine)
    return URLSafeTimedSerializer(secret, salt=tokens.LOGIN_DEVICE).dumps(payload)


def test_an_expired_device_cookie_gives_no_allowance(app, owner, monkeypatch):
    browser = trusted_browser(app)
    attack(app, 5)
    monkeypatch.setitem(app.config, "OV_LOGIN_DEVICE_DAYS", 0)
    from itsdangerous import timed

    real_now = timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(timed.TimestampSigner, "get_timestamp",
                        lambda self: real_now(self) + 2)
    assert attempt(browser, OWNER, PASSWORD).status_code == 422


# --- a new password ends every device cookie ---------------------------------------------------

def test_the_attackers_cookie_gives_nothing_once_the_owner_resets_the_password(app, owner):
    attacker = trusted_browser(app)  # the attacker signed in once (a guess, a stolen password)
    owners = app.test_client()
    assert reset_by_email(app, owners).status_code == 303
    assert owners.get_cookie(DEVICE) is not None  # the owner's browser is trusted at once
    codes = [attempt(attacker).status_code for _ in range(5)]
    assert codes == [422] * 5
    assert failures(app, owner) == 5 and locked_until(app, owner) is not None
    assert attempt(attacker, OWNER, NEW_PASSWORD).status_code == 422  # locked like anyone
    assert len(mails(app, "Bloqueamos")) == 1
    assert sign_in(owners, OWNER, NEW_PASSWORD).status_code == 303  # the owner is not


def test_any_new_password_ends_the_cookies_given_before_it(app, owner):
    browser = trusted_browser(app)
    with app.app_context():  # what every route that sets a password does (the undo link too)
        user = db.session.get(User, owner)
        user.password_hash = passwords.hash_password(NEW_PASSWORD)
        db.session.commit()
    attack(app, 5)
    assert attempt(browser, OWNER, NEW_PASSWORD).status_code == 422


@pytest.mark.usefixtures("billing")
def test_the_bill_holders_browser_is_not_trusted_after_the_undo(app):
    from tests.http.test_recovery_by_bill import OWNER_EMAIL, THIEF_PASSWORD, link_in, recover, undo
    from tests.support.journeys import Registration

    Registration(app.test_client(), app).complete()
    thief = app.test_client()
    assert thief.get_cookie(DEVICE) is None
    recover(app, thief)
    assert thief.get_cookie(DEVICE) is None  # proving the bill trusts no browser by itself
    assert sign_in(thief, "usuPDFactura1", THIEF_PASSWORD).status_code == 303
    assert thief.get_cookie(DEVICE) is not None
    assert undo(app, app.test_client(), link_in(app, OWNER_EMAIL, "deshacer-cambio")
                ).status_code == 303
    with app.app_context():
        user_id = db.session.scalar(select(User.id))
    codes = [attempt(thief, "usuPDFactura1").status_code for _ in range(5)]
    assert codes == [422] * 5
    assert failures(app, user_id) == 5 and locked_until(app, user_id) is not None


# --- a locked account answers the same whatever the password ---------------------------------

@pytest.mark.parametrize("failures", [5, 30])
def test_a_locked_account_answers_the_same_to_the_right_and_a_wrong_password(
    app, owner, failures
):
    attack(app, failures)
    client = app.test_client()
    right, wrong = attempt(client, OWNER, PASSWORD), attempt(client, OWNER, "Equivocada9")
    assert right.status_code == wrong.status_code
    assert right.headers["Content-Type"] == wrong.headers["Content-Type"]
    assert scrub(text(right)) == scrub(text(wrong))


# --- a reset by email always gets the owner back in ------------------------------------------

def reset_by_email(app, client, password: str = NEW_PASSWORD):
    token = hidden(text(client.get("/recuperar")), "csrf_token")
    client.post("/recuperar", data={"csrf_token": token, "correo": "cliente@ejemplo.mx"})
    body = mails(app, "Recupera")[-1].body_text
    link = re.search(r"http://127\.0\.0\.1:5000(/recuperar/enlace/\S+)", body).group(1)
    assert client.get(link).status_code == 303
    token = hidden(text(client.get("/recuperar/nueva-contrasena")), "csrf_token")
    return client.post("/recuperar/nueva-contrasena", data={
        "csrf_token": token, "contrasena": password, "contrasena2": password})


def test_a_reset_by_email_gets_the_owner_in_after_a_lock_and_keeps_them_in(app, owner):
    attack(app, 100)  # locked, the username throttled and the address's allowance spent
    fresh = app.test_client()  # the owner, on a browser never used here before
    assert attempt(fresh, OWNER, PASSWORD).status_code == 429
    done = reset_by_email(app, fresh)
    assert done.status_code == 303
    assert fresh.get_cookie(DEVICE) is not None
    assert locked_until(app, owner) is None
    attack(app, 30)  # the attacker goes on at once
    assert sign_in(fresh, OWNER, NEW_PASSWORD).status_code == 303


def ask_for_reset(client, email: str = "cliente@ejemplo.mx"):
    token = hidden(text(client.get("/recuperar")), "csrf_token")
    return client.post("/recuperar", data={"csrf_token": token, "correo": email})


def test_asking_for_the_owners_reset_again_and_again_does_not_stop_the_owners_own(
    app, owner, monkeypatch
):
    monkeypatch.setitem(app.config, "OV_RECOVERY_IP_LIMIT", "100 per hour")  # one test address
    limit = int(app.config["OV_RECOVERY_EMAIL_LIMIT"].split()[0])
    attacker = app.test_client()
    assert [ask_for_reset(attacker).status_code for _ in range(limit + 2)] == [303] * (limit + 2)
    fresh = app.test_client()  # the owner, from a browser never used here
    asked = ask_for_reset(fresh)
    assert (asked.status_code, asked.location) == (303, "/recuperar/enviado")  # as for anyone
    # No more mails than the limit: the mailbox is not flooded, and its newest link works.
    assert len(mails(app, "Recupera")) == limit
    assert reset_by_email(app, fresh).status_code == 303
    assert sign_in(fresh, OWNER, NEW_PASSWORD).status_code == 303
    # The same quiet answer for an address nobody has: the limit says nothing about it.
    nobody = [ask_for_reset(attacker, "nadie@ejemplo.mx").status_code for _ in range(limit + 1)]
    assert nobody == [303] * (limit + 1)


# --- limits per address ------------------------------------------------------------------------

def test_customers_behind_one_carrier_address_keep_signing_in(app, owner, monkeypatch):
    monkeypatch.setitem(app.config, "OV_LOGIN_IP_LIMIT", "10 per hour")
    browser = trusted_browser(app)
    codes = attack(app, 15, "nadieExiste99")
    assert codes[-1] == 429  # the address's allowance for unknown browsers is spent
    assert sign_in(browser, OWNER).status_code == 303  # a known browser there is not refused


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


# --- several workers share the allowances through Redis --------------------------------------

@pytest.mark.redis
def test_a_device_allowance_is_shared_by_two_workers_through_redis(tmp_path):
    from ov import create_app
    from tests.conftest import TEST_DATABASE_URL, reset_schema, settings_for

    apps = []  # the counts live under this run's key prefix (settings_for)
    for name in ("uno", "dos"):
        settings = {**settings_for(tmp_path / name), "OV_LOGIN_DEVICE_MAX_FAILURES": 3}
        if not TEST_DATABASE_URL:
            settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        apps.append(create_app(settings))
    if not TEST_DATABASE_URL:
        reset_schema(apps[0])
    with apps[0].app_context():
        make_customer(password_hash=passwords.hash_password(PASSWORD))
        db.session.commit()
    try:
        first = apps[0].test_client()
        assert sign_in(first, OWNER).status_code == 303
        second = apps[1].test_client()
        second.set_cookie(DEVICE, first.get_cookie(DEVICE).value)
        token = hidden(text(first.get("/")), "csrf_token")
        first.post("/salir", data={"csrf_token": token})
        attack(apps[0], 12)  # locked for untrusted clients on both workers
        codes = [attempt(worker).status_code for worker in (first, second, first)]
        assert codes == [422, 422, 422]
        # One allowance for both: used up, the cookie meets the unknown browsers' limits.
        assert attempt(second, OWNER, PASSWORD).status_code == 429
        assert sign_in(apps[1].test_client(), OWNER).status_code == 429
    finally:
        for application in apps:
            with application.app_context():
                db.session.remove()
                db.engine.dispose()
