"""Signing in and out, sessions, throttling and recovery, as an HTTP client sees them."""

from __future__ import annotations

import logging
import re
import threading

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import AuditEvent, User
from ov.services import passwords
from tests.support.factories import make_customer
from tests.support.journeys import PASSWORD, SEED, hidden, sign_in, zone_id
from tests.support.rows import events, outbox
from tests.support.smtp import PATIENCE, background_mail, smtp_server

pytestmark = pytest.mark.usefixtures("clean_db")

NEW_PASSWORD = "Rk4vW8nQz3"


@pytest.fixture
def customer(app):
    with app.app_context():
        user, _account = make_customer(password_hash=passwords.hash_password(PASSWORD))
        db.session.commit()
        return user.id


def text(response) -> str:
    return response.get_data(as_text=True)


def scrub(html: str) -> str:
    """A page without its per-request values (CSRF and CAPTCHA tokens, the incident number)."""
    html = re.sub(r'name="(csrf_token|captcha_token)" value="[^"]*"', "", html)
    return re.sub(r"Número de incidente: <strong>[^<]*</strong>", "", html)


def user(app, user_id: int) -> User:
    with app.app_context():
        found = db.session.get(User, user_id)
        db.session.expunge(found)
        return found






def is_signed_in(client) -> bool:
    return "Desconectar" in text(client.get("/"))


# --- the login page -------------------------------------------------------------------------

def test_the_login_page_says_what_the_guide_says(client):
    html = text(client.get("/entrar?usuario=usuPDFactura1"))
    for words in (
        "Identifícate",
        "Aquí podrás gestionar tus servicios de gas de manera rápida, fácil y cómoda.",
        "Campos obligatorios",
        "Entrar a la Oficina Virtual, Clientes residenciales y comerciales",
        "(6-25 caracteres números y letras y sin guiones)",
        "(8-12 caracteres números y letras y sin guiones)",
        "No recuerdo mi usuario y/o contraseña",
        "¿Aún no estás registrado? Regístrate aquí.",
    ):
        assert words in html
    assert 'autocomplete="username"' in html and 'autocomplete="current-password"' in html
    assert 'value="usuPDFactura1"' in html
    assert 'href="/registro/paso-1"' in html and 'href="/recuperar"' in html
    assert "Mostrar contraseña" not in html  # the toggle is added by script only


def test_login_lands_on_the_office_and_the_header_changes(app, client, customer):
    assert "Entrar</a>" in text(client.get("/"))
    response = sign_in(client, "USUpdfactura1")  # letter case does not matter
    assert response.status_code == 303
    assert response.location == "/mi-oficina"
    html = text(client.get("/"))
    assert "Primera conexión" in html and "Miguel Granados Ylarrañaga" in html
    assert 'href="/mi-oficina"' in html and "Desconectar" in html
    assert "js/session.js" in html
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert events(app, "login_succeeded")[0].user_id == customer


def test_the_header_shows_the_previous_connection_in_mexico_city_time(app, client, customer):
    from datetime import UTC, datetime

    with app.app_context():
        found = db.session.get(User, customer)
        found.last_login_at = datetime(2019, 2, 18, 18, 5, tzinfo=UTC)
        db.session.commit()
    sign_in(client, "usuPDFactura1")
    assert "Última conexión: 18/02/2019 12:05" in text(client.get("/"))


def test_htmx_login_loads_the_landing_page_whole(client, customer, htmx_headers):
    token = hidden(text(client.get("/entrar")), "csrf_token")
    response = client.post("/entrar", headers=htmx_headers, data={
        "csrf_token": token, "usuario": "usuPDFactura1", "contrasena": PASSWORD})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/mi-oficina"


def test_missing_answers_are_a_422_with_an_error_summary(client):
    token = hidden(text(client.get("/entrar")), "csrf_token")
    response = client.post("/entrar", data={"csrf_token": token, "usuario": "", "contrasena": ""})
    html = text(response)
    assert response.status_code == 422
    assert "<title>Error: Identifícate" in html and "Escribe tu usuario." in html
    assert 'class="error-summary"' in html


def login_body(client, username: str, password: str = "Equivocada1"):
    token = hidden(text(client.get("/entrar")), "csrf_token")
    return client.post("/entrar", data={"csrf_token": token, "usuario": username,
                                        "contrasena": password})


def test_unknown_user_and_wrong_password_answer_the_same(app, client, customer):
    # The same username text in both, so the re-filled field is the same.
    wrong = login_body(client, "usuPDFactura1")
    with app.app_context():
        db.session.get(User, customer).username = "otroUsuario1"
        db.session.commit()
    unknown = login_body(client, "usuPDFactura1")
    assert wrong.status_code == unknown.status_code == 422
    assert scrub(text(wrong)) == scrub(text(unknown))
    assert "Usuario o contraseña incorrectos." in text(wrong)
    assert wrong.headers["Content-Type"] == unknown.headers["Content-Type"]


def test_a_locked_account_answers_like_an_unknown_user_even_with_its_password(
    app, client, customer, monkeypatch
):
    for _ in range(5):
        login_body(client, "usuPDFactura1")
    assert user(app, customer).locked_until is not None
    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password",
                        lambda *args: calls.append("real") or real(*args))
    locked = login_body(client, "usuPDFactura1", PASSWORD)
    with app.app_context():
        db.session.get(User, customer).username = "otroUsuario1"
        db.session.commit()
    unknown = login_body(client, "usuPDFactura1", PASSWORD)
    assert locked.status_code == unknown.status_code == 422
    assert scrub(text(locked)) == scrub(text(unknown))
    assert calls == []  # a locked account says nothing about the password either


def test_a_wrong_password_costs_one_verification_and_no_dummy(app, client, customer,
                                                               monkeypatch):
    calls = []
    real_verify, real_dummy = passwords.verify_password, passwords.verify_dummy
    monkeypatch.setattr(passwords, "verify_password",
                        lambda *args: calls.append("real") or real_verify(*args))
    monkeypatch.setattr(passwords, "verify_dummy",
                        lambda pw: calls.append("dummy") or real_dummy(pw))
    login_body(client, "usuPDFactura1")
    assert calls == ["real"]  # and an unknown user costs exactly one dummy (test below)


def test_unknown_users_cost_a_hash_verification_too(app, client, monkeypatch):
    calls = []
    real = passwords.verify_dummy
    monkeypatch.setattr(passwords, "verify_dummy", lambda pw: calls.append(pw) or real(pw))
    login_body(client, "nadieExiste1")
    assert calls == ["Equivocada1"]


# --- next targets ---------------------------------------------------------------------------

BAD_NEXT = [
    "//evil.example", "/\\evil.example", "\\\\evil.example", "http:///evil.example",
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
    "/%0d%0aSet-Cookie:x", "/ok\r\nSet-Cookie: x", "/ok\x00", "/\t/evil.example",
    "/\n/evil.example", "\x00//evil.example", "https://evil.example/mi-oficina",
    "http://localhost/mi-oficina", "http:/evil.example", "mi-oficina", "/%2F%2Fevil.example",
    "/%5Cevil.example", "/%09/evil.example", "/\u2028x", "/\u200e/evil.example",
    "//evil.example/%2e%2e", "///evil.example", "/" + "a" * 2100,
]


@pytest.mark.parametrize("target", BAD_NEXT)
def test_next_never_leaves_the_site(client, customer, target):
    token = hidden(text(client.get("/entrar")), "csrf_token")
    response = client.post("/entrar", data={"csrf_token": token, "usuario": "usuPDFactura1",
                                            "contrasena": PASSWORD, "next": target})
    assert response.status_code == 303
    assert response.location == "/mi-oficina"


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "javascript:x"])
def test_next_never_leaves_the_site_for_htmx_or_a_signed_in_visitor(
    client, customer, htmx_headers, target
):
    token = hidden(text(client.get("/entrar")), "csrf_token")
    response = client.post("/entrar", headers=htmx_headers, data={
        "csrf_token": token, "usuario": "usuPDFactura1", "contrasena": PASSWORD,
        "next": target})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/mi-oficina"
    again = client.get("/entrar", query_string={"next": target})  # already signed in
    assert again.status_code == 303 and again.location == "/mi-oficina"


def test_a_next_value_is_escaped_on_the_login_page(client):
    html = text(client.get("/entrar", query_string={"next": '/x"><script>alert(1)</script>'}))
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_a_path_on_the_site_is_honoured(client, customer):
    html = text(client.get("/entrar?next=/mi-oficina/facturas?pagina=2"))
    assert 'value="/mi-oficina/facturas?pagina=2"' in html
    assert "Para ver esa página, entra" in html
    token = hidden(html, "csrf_token")
    response = client.post("/entrar", data={"csrf_token": token, "usuario": "usuPDFactura1",
                                            "contrasena": PASSWORD,
                                            "next": "/mi-oficina/facturas?pagina=2"})
    assert response.location == "/mi-oficina/facturas?pagina=2"


# --- sessions -------------------------------------------------------------------------------

def session_cookie(app, client):
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"])


def test_the_cookie_is_httponly_lax_and_the_id_changes_at_login(app, client, customer):
    with client.session_transaction() as stored:  # a session stored before the sign-in
        stored["ov_prueba"] = 1
    before = session_cookie(app, client).value
    response = sign_in(client, "usuPDFactura1")
    header = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith(app.config["SESSION_COOKIE_NAME"] + "="))
    assert "HttpOnly" in header and "SameSite=Lax" in header
    after = session_cookie(app, client).value
    assert after != before
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], before)
    assert not is_signed_in(client)  # the pre-login id is gone with its record


def test_a_session_id_chosen_by_someone_else_is_never_adopted(app, client, customer):
    name = app.config["SESSION_COOKIE_NAME"]
    client.set_cookie(name, "idElegidoPorElAtacante1234567890")
    client.get("/entrar")
    with app.app_context():  # a look stores nothing, under that id or any other
        interface = app.session_interface
        store_id = interface._get_store_id("idElegidoPorElAtacante1234567890")
        assert interface._retrieve_session_data(store_id) is None
    client.set_cookie(name, "idElegidoPorElAtacante1234567890")
    sign_in(client, "usuPDFactura1")
    assert session_cookie(app, client).value != "idElegidoPorElAtacante1234567890"
    stranger = app.test_client()
    stranger.set_cookie(name, "idElegidoPorElAtacante1234567890")
    assert not is_signed_in(stranger)


def test_logout_without_the_csrf_token_is_refused_and_ends_nothing(app, client, customer):
    sign_in(client, "usuPDFactura1")
    for data in ({}, {"csrf_token": "falso"}):
        response = client.post("/salir", data=data)
        assert response.status_code == 400
        assert is_signed_in(client)
    assert events(app, "logout") == []


def test_logout_is_post_only_and_kills_the_session_on_the_server(app, client, customer):
    sign_in(client, "usuPDFactura1")
    signed = session_cookie(app, client).value
    assert client.get("/salir").status_code == 405
    token = hidden(text(client.get("/")), "csrf_token")
    response = client.post("/salir", data={"csrf_token": token})
    assert response.status_code == 303 and response.location == "/entrar"
    assert "Cerraste tu sesión" in text(client.get("/entrar"))
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], signed)
    assert not is_signed_in(replay)
    assert replay.get("/mi-oficina").status_code == 302  # the copied cookie opens nothing
    (event,) = events(app, "logout")
    assert event.user_id == customer and event.client_address == "127.0.0.1"


def test_a_password_change_ends_the_other_sessions(app, client, customer):
    other = app.test_client()
    sign_in(client, "usuPDFactura1")
    sign_in(other, "usuPDFactura1")
    assert is_signed_in(client) and is_signed_in(other)
    # The first browser resets the password through the emailed link.
    request_reset(client)
    link = reset_link(app)
    client.get(link)
    token = hidden(text(client.get("/recuperar/nueva-contrasena")), "csrf_token")
    done = client.post("/recuperar/nueva-contrasena", data={
        "csrf_token": token, "contrasena": NEW_PASSWORD, "contrasena2": NEW_PASSWORD})
    assert done.status_code == 303
    assert is_signed_in(client)  # the session that changed it keeps going
    assert not is_signed_in(other)
    assert "la contraseña de tu usuario cambió" in text(other.get("/entrar"))


def test_mi_oficina_needs_a_login_and_is_never_stored(client, customer):
    response = client.get("/mi-oficina")
    assert response.status_code == 302 and response.location == "/entrar?next=/mi-oficina"
    sign_in(client, "usuPDFactura1")
    page = client.get("/mi-oficina")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"


def test_private_pages_send_anonymous_visitors_to_login(client):
    response = client.post("/mi-oficina/reenviar-confirmacion")
    assert response.status_code == 400  # no CSRF token: refused before anything
    token = hidden(text(client.get("/entrar")), "csrf_token")
    response = client.post("/mi-oficina/reenviar-confirmacion", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.location.startswith("/entrar?next=")


def age_session(client, **seconds):
    with client.session_transaction() as stored:
        for key, amount in seconds.items():
            stored[key] -= amount


def test_an_idle_session_ends_and_the_login_page_says_why(app, client, customer):
    sign_in(client, "usuPDFactura1")
    age_session(client, ov_seen=19 * 60)
    assert is_signed_in(client)  # 19 minutes: still there, and renewed
    age_session(client, ov_seen=20 * 60 + 1)
    assert not is_signed_in(client)
    html = text(client.get("/entrar"))
    assert "Tu sesión se cerró por inactividad" in html


def test_a_burst_of_requests_does_not_rewrite_the_session(app, client, customer):
    """A page and its lazy parts arrive together: only a session last seen more than
    SEEN_STEP seconds ago is written again, so they cannot write stale copies over it."""
    from ov.auth_helpers import SEEN_STEP

    sign_in(client, "usuPDFactura1")
    client.get("/mi-oficina")
    for url in ("/mi-oficina", "/mi-oficina/facturas", "/mi-oficina/pagos"):
        assert "Set-Cookie" not in client.get(url).headers, url
    age_session(client, ov_seen=SEEN_STEP)
    with client.session_transaction() as stored:
        before = stored["ov_seen"]
    assert "Set-Cookie" in client.get("/mi-oficina").headers
    with client.session_transaction() as stored:
        assert stored["ov_seen"] >= before + SEEN_STEP


def test_a_session_ends_after_twelve_hours_even_when_used(app, client, customer):
    sign_in(client, "usuPDFactura1")
    age_session(client, ov_started=12 * 3600 - 60)
    assert is_signed_in(client)
    age_session(client, ov_started=61)
    assert not is_signed_in(client)
    assert "más de 12 horas" in text(client.get("/entrar"))


def test_a_timed_out_post_keeps_the_answers_for_after_the_login(app, client, customer):
    sign_in(client, "usuPDFactura1")
    token = hidden(text(client.get("/")), "csrf_token")
    age_session(client, ov_seen=21 * 60)
    response = client.post("/mi-oficina/reenviar-confirmacion", data={
        "csrf_token": token, "next": "/mi-oficina/datos", "secreto": "x",
        "contrasena": PASSWORD, "conservar": "next,secreto,contrasena"})
    assert response.status_code == 303
    assert response.location == "/entrar?next=/mi-oficina/reenviar-confirmacion"
    with client.session_transaction() as stored:  # nor kept in the session meanwhile
        assert stored["ov_resume"]["answers"] == [["next", "/mi-oficina/datos"]]
    assert "inactividad" in text(client.get(response.location))
    again = login_and_follow(client, "/mi-oficina/reenviar-confirmacion")
    assert again.status_code == 200
    html = text(again)
    assert 'action="/mi-oficina/reenviar-confirmacion"' in html
    assert 'name="next" value="/mi-oficina/datos"' in html and "secreto" not in html
    assert PASSWORD not in html  # whatever the form listed, a password is never kept


def login_and_follow(client, next_url):
    token = hidden(text(client.get("/entrar")), "csrf_token")
    return client.post("/entrar", data={"csrf_token": token, "usuario": "usuPDFactura1",
                                        "contrasena": PASSWORD, "next": next_url})


def test_kept_answers_are_offered_only_to_the_same_customer(app, client, customer):
    with app.app_context():
        make_customer(username="otroCliente22", email="otro@ejemplo.mx",
                      password_hash=passwords.hash_password(PASSWORD), number="1234567")
        db.session.commit()
    sign_in(client, "usuPDFactura1")
    token = hidden(text(client.get("/")), "csrf_token")
    age_session(client, ov_seen=21 * 60)
    client.post("/mi-oficina/reenviar-confirmacion", data={
        "csrf_token": token, "next": "/mi-oficina/datos", "conservar": "next"})
    response = sign_in(client, "otroCliente22")
    assert response.status_code == 303  # straight to the office: nothing of the other one


def test_keep_alive_renews_a_signed_in_session(client, customer):
    sign_in(client, "usuPDFactura1")
    age_session(client, ov_seen=19 * 60)
    token = hidden(text(client.get("/")), "csrf_token")
    age_session(client, ov_seen=19 * 60)
    response = client.post("/sesion/seguir", data={"csrf_token": token},
                           headers={"X-Sesion": "seguir"})
    assert response.status_code == 204
    age_session(client, ov_seen=2 * 60)
    assert is_signed_in(client)


def test_the_signed_in_page_carries_the_warning_dialog(client, customer):
    assert 'id="aviso-sesion"' not in text(client.get("/"))
    sign_in(client, "usuPDFactura1")
    html = text(client.get("/"))
    assert 'id="aviso-sesion"' in html and 'data-idle="1200"' in html
    assert 'data-warn="120"' in html and "Seguir conectado" in html


# --- throttling and locking -----------------------------------------------------------------

def test_five_failures_lock_the_account_mail_the_owner_and_a_reset_unlocks(app, client, customer):
    for _ in range(5):
        assert login_body(client, "usuPDFactura1").status_code == 422
    found = user(app, customer)
    assert found.failed_logins == 5 and found.locked_until is not None
    assert len(events(app, "account_locked")) == 1
    mails = [m for m in outbox(app) if "Bloqueamos" in m.subject]
    assert len(mails) == 1 and mails[0].to_address == "cliente@ejemplo.mx"
    assert "http://127.0.0.1:5000/recuperar" in mails[0].body_text
    locked = login_body(client, "usuPDFactura1", PASSWORD)  # the right password: still no
    assert locked.status_code == 422
    request_reset(client)
    client.get(reset_link(app))
    token = hidden(text(client.get("/recuperar/nueva-contrasena")), "csrf_token")
    client.post("/recuperar/nueva-contrasena", data={
        "csrf_token": token, "contrasena": NEW_PASSWORD, "contrasena2": NEW_PASSWORD})
    found = user(app, customer)
    assert found.failed_logins == 0 and found.locked_until is None
    assert sign_in(client, "usuPDFactura1", NEW_PASSWORD).status_code == 303


def test_a_lock_ends_by_itself_and_the_owner_then_gets_in(app, client, customer,
                                                          monkeypatch):
    from datetime import timedelta

    from ov.models import utcnow
    from ov.services import auth

    start = utcnow()
    clock = [start]
    monkeypatch.setattr(auth, "utcnow", lambda: clock[0])  # the lock's frozen clock
    for _ in range(5):
        login_body(client, "usuPDFactura1")
    assert user(app, customer).locked_until == start + timedelta(minutes=15)
    clock[0] = start + timedelta(minutes=14, seconds=59)
    assert login_body(client, "usuPDFactura1", PASSWORD).status_code == 422
    clock[0] = start + timedelta(minutes=15, seconds=1)
    assert login_body(client, "usuPDFactura1", PASSWORD).status_code == 303
    found = user(app, customer)
    assert found.failed_logins == 0 and found.locked_until is None


def test_a_reset_also_lifts_the_per_username_throttle(app, client, customer, monkeypatch):
    monkeypatch.setitem(app.config, "OV_LOGIN_ACCOUNT_LIMIT", "3 per hour")
    for _ in range(3):
        login_body(client, "usuPDFactura1")
    assert login_body(client, "USUPDFACTURA1", PASSWORD).status_code == 429
    reset_password(app, client)
    assert sign_in(client, "usuPDFactura1", NEW_PASSWORD).status_code == 303
    other = login_body(app.test_client(), "nadieExiste99")  # other names keep their counts
    assert other.status_code == 422


def test_a_lock_is_temporary_and_grows(app, customer):
    from datetime import timedelta

    from ov.models import utcnow
    from ov.services import auth

    with app.app_context():
        start = utcnow()
        _count, first = auth.count_failure(customer, start)
        for _ in range(4):
            count, first = auth.count_failure(customer, start)
        assert count == 5 and first == start + timedelta(minutes=15)
        for _ in range(5):
            count, second = auth.count_failure(customer, start)
        assert count == 10 and second == start + timedelta(minutes=30)
        for _ in range(100):
            count, last = auth.count_failure(customer, start)
        assert last <= start + timedelta(minutes=240)
        db.session.rollback()


def test_twenty_parallel_wrong_logins_count_exactly_twenty(app, customer, monkeypatch):
    monkeypatch.setitem(app.config, "OV_LOGIN_ACCOUNT_LIMIT", "1000 per minute")
    monkeypatch.setitem(app.config, "OV_LOGIN_IP_LIMIT", "1000 per minute")
    clients = [app.test_client() for _ in range(20)]
    tokens = [hidden(text(c.get("/entrar")), "csrf_token") for c in clients]
    barrier = threading.Barrier(20)
    statuses, errors = [], []

    def attempt(c, token):
        try:
            barrier.wait(timeout=10)
            statuses.append(c.post("/entrar", data={
                "csrf_token": token, "usuario": "usuPDFactura1",
                "contrasena": "Equivocada1"}).status_code)
        except Exception as exc:  # reported below
            errors.append(exc)

    pairs = zip(clients, tokens, strict=True)
    threads = [threading.Thread(target=attempt, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and statuses == [422] * 20
    assert user(app, customer).failed_logins == 20
    assert len(events(app, "account_locked")) == 4  # at 5, 10, 15 and 20: once each


def test_the_account_limit_applies_to_unknown_and_known_names_alike(app, client, customer,
                                                                    monkeypatch):
    monkeypatch.setitem(app.config, "OV_LOGIN_ACCOUNT_LIMIT", "3 per minute")
    for name in ("usuPDFactura1", "nadieExiste99"):
        codes = [login_body(client, name).status_code for _ in range(4)]
        assert codes == [422, 422, 422, 429]


@pytest.mark.redis
def test_login_throttling_is_shared_by_two_workers_through_redis(tmp_path):
    import redis

    from ov import create_app
    from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, reset_schema, settings_for

    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    apps = []
    for name in ("uno", "dos"):
        settings = {**settings_for(tmp_path / name), "OV_LOGIN_ACCOUNT_LIMIT": "3 per minute"}
        if not TEST_DATABASE_URL:
            settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        apps.append(create_app(settings))
    if not TEST_DATABASE_URL:
        reset_schema(apps[0])
    workers = [application.test_client() for application in apps]
    codes = []
    for worker in workers * 2:
        codes.append(login_body(worker, "nadieExiste99").status_code)
    assert codes == [422, 422, 422, 429]
    # The known user's count is shared too, and the other worker's login is refused.
    with apps[0].app_context():
        make_customer(password_hash=passwords.hash_password(PASSWORD))
        db.session.commit()
    codes = [login_body(worker, "usuPDFactura1").status_code for worker in workers * 2]
    assert codes == [422, 422, 422, 429]
    assert login_body(workers[1], "usuPDFactura1", PASSWORD).status_code == 429
    for application in apps:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


# --- log lines and audit --------------------------------------------------------------------

class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_typed_usernames_never_forge_log_lines_or_audit_rows(app, client, monkeypatch):
    collect = Collect()
    level = app.logger.level
    app.logger.setLevel(logging.DEBUG)
    app.logger.addHandler(collect)
    try:
        login_body(client, "evil\r\nINFO forged line")
    finally:
        app.logger.removeHandler(collect)
        app.logger.setLevel(level)
    assert collect.lines == ["login failed: {'username_valid': False}"]
    (event,) = events(app, "login_failed")
    assert event.details == {"reason": "unknown", "username_valid": False}
    login_body(client, "Alguien123")
    assert "alguien123" not in str(events(app, "login_failed")[1].details).casefold()


# --- recovery by email ----------------------------------------------------------------------

def request_reset(client, email="cliente@ejemplo.mx", headers=None):
    token = hidden(text(client.get("/recuperar", headers=headers or {})), "csrf_token")
    return client.post("/recuperar", data={"csrf_token": token, "correo": email},
                       headers=headers or {})


def reset_link(app) -> str:
    body = [m for m in outbox(app) if m.subject.startswith("Recupera")][-1].body_text
    url = re.search(r"http://127\.0\.0\.1:5000(/recuperar/enlace/\S+)", body).group(1)
    return url


def reset_password(app, client, password=NEW_PASSWORD):
    """The whole recovery by email, from asking for the link to the new password."""
    request_reset(client)
    assert client.get(reset_link(app)).status_code == 303
    token = hidden(text(client.get("/recuperar/nueva-contrasena")), "csrf_token")
    done = client.post("/recuperar/nueva-contrasena", data={
        "csrf_token": token, "contrasena": password, "contrasena2": password})
    assert done.status_code == 303, text(done)
    return done


def visible_headers(response) -> dict:
    return {k: v for k, v in response.headers.items()
            if k not in {"Set-Cookie", "Date", "X-Request-ID"}}


@pytest.mark.parametrize("htmx", [False, True])
def test_recovery_answers_the_same_for_known_and_unknown_addresses(app, client, customer,
                                                                   htmx_headers, htmx):
    headers = htmx_headers if htmx else {}
    known = request_reset(client, headers=headers)
    unknown = request_reset(client, "nadie@ejemplo.mx", headers=headers)
    assert known.status_code == unknown.status_code == 303
    assert known.location == unknown.location == "/recuperar/enviado"
    assert known.get_data() == unknown.get_data()
    assert visible_headers(known) == visible_headers(unknown)
    sent = client.get("/recuperar/enviado", headers=headers)
    assert "Si ese correo está registrado" in text(sent)
    mails = outbox(app)
    assert len(mails) == 1 and "Tu usuario es: usuPDFactura1" in mails[0].body_text
    assert len(events(app, "password_reset_requested")) == 2


def test_the_address_is_found_whatever_its_letter_case(app, client, customer):
    request_reset(client, " Cliente@EJEMPLO.mx ")
    assert [m.to_address for m in outbox(app)] == ["cliente@ejemplo.mx"]


@pytest.fixture
def smtp_mail(app, monkeypatch):
    """The app sends through a real SMTP server that holds each mail until released."""
    with smtp_server(hold=True) as server:
        state = app.extensions["mailman"]
        for name, value in {"backend": "smtp", "server": "127.0.0.1", "port": server.port,
                            "use_tls": False, "use_ssl": False, "username": None,
                            "password": None, "timeout": PATIENCE}.items():
            monkeypatch.setattr(state, name, value)
        yield server


def test_the_recovery_answer_arrives_while_the_mail_server_still_holds_the_mail(
    app, customer, live_server, smtp_mail, monkeypatch
):
    """Over real HTTP: the answer, and the page it leads to, arrive while the SMTP server is
    still holding the reset mail unanswered; the test lets the server answer only then, and
    the mail is delivered and marked sent."""
    import requests

    browser = requests.Session()
    token = hidden(browser.get(live_server + "/recuperar").text, "csrf_token")
    answers, answered = [], threading.Event()

    def ask():
        answers.append(browser.post(live_server + "/recuperar",
                                    data={"csrf_token": token, "correo": "cliente@ejemplo.mx"}))
        answered.set()

    with background_mail(monkeypatch) as sender:
        asking = threading.Thread(target=ask)
        asking.start()
        try:
            assert answered.wait(PATIENCE), "the answer waited for the mail server"
            assert smtp_mail.arrived.wait(PATIENCE), "the mail never reached the server"
            assert [m.sent_at for m in outbox(app)] == [None]  # still held by the server
        finally:
            smtp_mail.release()
            asking.join(PATIENCE)
        answer = answers[0]
        assert answer.history[0].status_code == 303
        assert answer.url == live_server + "/recuperar/enviado"
        assert "Si ese correo está registrado" in answer.text
        sender.wait()
    assert all(m.sent_at is not None for m in outbox(app))
    assert len(smtp_mail.messages) == 1
    assert smtp_mail.messages[0]["Subject"] == "Recupera el acceso a tu Oficina Virtual"


def test_known_and_unknown_addresses_do_the_same_work_before_the_answer(app, client, customer,
                                                                        monkeypatch):
    """What takes time inside the request (talking to the mail server, hashing a password,
    committing) happens alike for an address we know and one we do not; the known one's mail
    is only handed to the sending threads, which send it after the answer."""
    from flask import has_request_context
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from ov.services import mail

    work: list[str] = []

    def spy(module, name):
        real = getattr(module, name)

        def counted(*args, **kwargs):
            if has_request_context():
                work.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    for name in ("deliver", "deliver_soon", "_connection"):
        spy(mail, name)
    for name in ("hash_password", "verify_password", "verify_dummy"):
        spy(passwords, name)

    def committed(_session):
        if has_request_context():
            work.append("commit")

    event.listen(Session, "after_commit", committed)
    try:
        done = {}
        with background_mail(monkeypatch) as sender:
            for address in ("nadie@ejemplo.mx", "cliente@ejemplo.mx"):
                token = hidden(text(client.get("/recuperar")), "csrf_token")
                work.clear()
                before = len(sender.jobs)
                answer = client.post("/recuperar", data={"csrf_token": token, "correo": address})
                assert answer.status_code == 303
                done[address] = (sorted(work), len(sender.jobs) - before)
            sender.wait()
    finally:
        event.remove(Session, "after_commit", committed)
    assert done["nadie@ejemplo.mx"][0] == done["cliente@ejemplo.mx"][0]
    assert not {"deliver", "deliver_soon", "_connection"} & set(done["cliente@ejemplo.mx"][0])
    assert (done["nadie@ejemplo.mx"][1], done["cliente@ejemplo.mx"][1]) == (0, 1)
    mails = outbox(app)
    assert len(mails) == 1 and mails[0].sent_at is not None  # sent after its answer


def test_a_forged_host_builds_no_foreign_link(app, client, customer):
    request_reset(client, headers={"Host": "atacante.example"})
    body = outbox(app)[0].body_text
    assert "atacante" not in body and "http://127.0.0.1:5000/recuperar/enlace/" in body


def test_the_reset_link_moves_to_a_token_free_url_and_works_once(app, client, customer):
    request_reset(client)
    link = reset_link(app)
    opened = client.get(link)
    assert opened.status_code == 303 and opened.location == "/recuperar/nueva-contrasena"
    page = client.get("/recuperar/nueva-contrasena")
    assert page.headers["Cache-Control"] == "no-store"
    assert "Tu usuario es <strong>usuPDFactura1</strong>" in text(page)
    token = hidden(text(page), "csrf_token")
    weak = client.post("/recuperar/nueva-contrasena", data={
        "csrf_token": token, "contrasena": "password", "contrasena2": "password"})
    assert weak.status_code == 422 and "<title>Error: " in text(weak)
    done = client.post("/recuperar/nueva-contrasena", data={
        "csrf_token": token, "contrasena": NEW_PASSWORD, "contrasena2": NEW_PASSWORD})
    assert done.status_code == 303 and done.location == "/recuperar/listo"
    assert "usuPDFactura1" in text(client.get("/recuperar/listo"))
    again = app.test_client().get(link)
    assert again.status_code == 400 and "ya no es válido" in text(again)
    assert len(events(app, "password_reset_completed")) == 1
    assert sign_in(app.test_client(), "usuPDFactura1", NEW_PASSWORD).status_code == 303


def test_a_reset_link_expires_after_sixty_minutes(app, client, customer, frozen_clock):
    start = frozen_clock[0]
    request_reset(client)
    link = reset_link(app)
    frozen_clock[0] = start + 60 * 60  # exactly 60 minutes: still good
    assert app.test_client().get(link).status_code == 303
    frozen_clock[0] = start + 60 * 60 + 1
    expired = app.test_client().get(link)
    assert expired.status_code == 400 and "ya no es válido" in text(expired)


def test_a_reset_form_left_open_past_the_expiry_refuses_to_save(app, client, customer,
                                                                frozen_clock):
    start = frozen_clock[0]
    request_reset(client)
    client.get(reset_link(app))
    frozen_clock[0] = start + 59 * 60
    token = hidden(text(client.get("/recuperar/nueva-contrasena")), "csrf_token")
    frozen_clock[0] = start + 61 * 60
    late = client.post("/recuperar/nueva-contrasena", data={
        "csrf_token": token, "contrasena": NEW_PASSWORD, "contrasena2": NEW_PASSWORD})
    assert late.status_code == 400
    assert passwords.verify_password(user(app, customer).password_hash, PASSWORD)


def test_a_reset_link_dies_when_the_password_changes(app, client, customer):
    from ov.services import auth

    request_reset(client)
    link = reset_link(app)
    with app.app_context():
        auth.set_password(db.session.get(User, customer), "Mn3bV7cX2z")
        db.session.commit()
    assert client.get(link).status_code == 400


def test_two_tabs_cannot_use_one_link_twice(app, client, customer):
    request_reset(client)
    link = reset_link(app)
    second = app.test_client()
    for tab in (client, second):
        assert tab.get(link).status_code == 303
    forms = [hidden(text(tab.get("/recuperar/nueva-contrasena")), "csrf_token")
             for tab in (client, second)]
    first = client.post("/recuperar/nueva-contrasena", data={
        "csrf_token": forms[0], "contrasena": NEW_PASSWORD, "contrasena2": NEW_PASSWORD})
    late = second.post("/recuperar/nueva-contrasena", data={
        "csrf_token": forms[1], "contrasena": "Mn3bV7cX2z", "contrasena2": "Mn3bV7cX2z"})
    assert first.status_code == 303 and late.status_code == 400
    assert passwords.verify_password(user(app, customer).password_hash, NEW_PASSWORD)


def test_the_token_leaves_the_url_before_any_page_is_shown(app, client, customer):
    request_reset(client)
    link = reset_link(app)
    opened = client.get(link)
    assert opened.status_code == 303
    body = opened.get_data()
    assert b"<link" not in body and b"<script" not in body and b"<img" not in body
    assert opened.headers["Cache-Control"] == "no-store"
    assert opened.headers["Referrer-Policy"] in {"same-origin", "no-referrer"}
    page = text(client.get(opened.location))
    assert link.rsplit("/", 1)[1] not in page


def test_a_reset_link_dies_when_the_email_changes(app, client, customer):
    request_reset(client)
    link = reset_link(app)
    with app.app_context():
        db.session.get(User, customer).email = "nuevo@ejemplo.mx"
        db.session.commit()
    assert client.get(link).status_code == 400


def test_a_tampered_link_is_refused(client):
    assert client.get("/recuperar/enlace/abc.def.ghi").status_code == 400
    assert client.get("/recuperar/nueva-contrasena").status_code == 400


# --- recovery with the bill -----------------------------------------------------------------

def bill_form(client, app, **answers):
    page = text(client.get("/recuperar/con-factura"))
    form = {"csrf_token": hidden(page, "csrf_token"),
            "captcha_token": hidden(page, "captcha_token"), "comentarios": "",
            "zona": str(zone_id(app)), "cuenta": SEED["account"], "factura": SEED["invoice"]}
    form.update(answers)
    return form


def test_recovery_by_bill_shows_the_username_and_sets_password_and_email(app, client, billing):
    from tests.support.journeys import Registration

    Registration(app.test_client(), app).complete()
    response = client.post("/recuperar/con-factura", data=bill_form(client, app))
    assert response.status_code == 303
    page = client.get(response.location)
    assert "Tu usuario es <strong>usuPDFactura1</strong>" in text(page)
    token = hidden(text(page), "csrf_token")
    done = client.post("/recuperar/con-factura/nuevos-datos", data={
        "csrf_token": token, "contrasena": NEW_PASSWORD, "contrasena2": NEW_PASSWORD,
        "correo": "nuevo@ejemplo.mx", "correo2": "nuevo@ejemplo.mx"})
    assert done.status_code == 303
    mails = outbox(app)
    notice = [m for m in mails if m.to_address == "correo@electronico.es"
              and "Cambiaron la contraseña" in m.subject]
    assert len(notice) == 1 and "n****@e******.mx" in notice[0].body_text
    assert [m.subject for m in mails if m.to_address == "nuevo@ejemplo.mx"] == [
        "Confirma tu correo nuevo"]  # the new address only once confirmed
    assert len(events(app, "recovery_by_bill")) == 1
    assert sign_in(app.test_client(), "usuPDFactura1", NEW_PASSWORD).status_code == 303


def registered_and_signed_in(app):
    from tests.support.journeys import Registration

    Registration(app.test_client(), app).complete()
    elsewhere = app.test_client()
    assert sign_in(elsewhere, "usuPDFactura1").status_code == 303
    return elsewhere


def test_recovery_by_bill_unlocks_and_ends_the_other_sessions(app, client, billing):
    elsewhere = registered_and_signed_in(app)
    for _ in range(5):
        login_body(client, "usuPDFactura1")
    response = client.post("/recuperar/con-factura", data=bill_form(client, app))
    page = text(client.get(response.location))
    client.post("/recuperar/con-factura/nuevos-datos", data={
        "csrf_token": hidden(page, "csrf_token"), "contrasena": NEW_PASSWORD,
        "contrasena2": NEW_PASSWORD, "correo": "correo@electronico.es",
        "correo2": "correo@electronico.es"})
    assert not is_signed_in(elsewhere)
    assert sign_in(client, "usuPDFactura1", NEW_PASSWORD).status_code == 303
    assert not any("correo nuevo" in m.subject for m in outbox(app))  # same address


def test_recovery_by_bill_needs_the_captcha(app, client, billing):
    registered_and_signed_in(app)
    for answers in ({"captcha_token": ""}, {"comentarios": "soy un robot"},
                    {"captcha_token": "falso.token.x"}):
        response = client.post("/recuperar/con-factura",
                               data=bill_form(client, app, **answers))
        assert response.status_code == 422
        assert "<title>Error: " in text(response)
    form = bill_form(client, app)
    assert client.post("/recuperar/con-factura", data=form).status_code == 303
    replay = app.test_client()
    assert replay.post("/recuperar/con-factura", data=form).status_code in {400, 422}


def test_recovery_by_bill_counts_attempts_per_contract_whatever_the_spelling(app, billing,
                                                                           monkeypatch):
    monkeypatch.setitem(app.config, "OV_RECOVERY_BILL_IP_LIMIT", "100 per hour")
    zone = zone_id(app)
    spellings = [str(zone), f"0{zone}", f" {zone}", f"00{zone}", f"+{zone}", f"000{zone}"]
    codes = []
    for spelling in spellings:
        tab = app.test_client()
        codes.append(tab.post("/recuperar/con-factura", data=bill_form(
            tab, app, zona=spelling, factura="ZE00000000")).status_code)
    assert codes == [422] * 5 + [429]
    tab = app.test_client()  # the right bill too, now: the contract waits
    assert tab.post("/recuperar/con-factura", data=bill_form(tab, app)).status_code == 429


def test_an_unregistered_contract_says_so_only_after_the_proof(app, client, billing):
    response = client.post("/recuperar/con-factura", data=bill_form(client, app))
    assert response.status_code == 404
    assert "nadie ha registrado todavía este contrato" in text(response)


def test_a_wrong_bill_gets_one_generic_error(app, client, billing):
    response = client.post("/recuperar/con-factura",
                           data=bill_form(client, app, factura="ZE00000000"))
    assert response.status_code == 422
    assert "Los datos no coinciden" in text(response)
    assert client.get("/recuperar/con-factura/nuevos-datos").status_code == 303


# --- audit: every event, with time, user, address and no secrets -----------------------------

def test_each_security_event_is_audited_without_secrets(app, client, customer):
    import json
    from datetime import timedelta

    login_body(client, "usuPDFactura1", "Equivocada1")
    login_body(client, "nadieExiste99", "Equivocada2")
    sign_in(client, "usuPDFactura1")
    client.post("/salir", data={"csrf_token": hidden(text(client.get("/")), "csrf_token")})
    request_reset(client)
    request_reset(client, "nadie@ejemplo.mx")
    link = reset_link(app)
    reset_password(app, client)
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        kinds = [row.kind for row in rows]
        for row in rows:
            assert row.at.utcoffset() == timedelta(0)  # UTC
            assert row.client_address == "127.0.0.1"
            assert row.user_id in (None, customer)
            stored = json.dumps(row.details)
            for secret in (PASSWORD, NEW_PASSWORD, "Equivocada1", "Equivocada2",
                           link.rsplit("/", 1)[1][:40], "cliente@ejemplo.mx",
                           "nadie@ejemplo.mx", "nadieExiste99"):
                assert secret not in stored, (row.kind, stored)
    assert kinds == ["login_failed", "login_failed", "login_succeeded", "logout",
                     "password_reset_requested", "password_reset_requested",
                     "password_reset_requested", "password_reset_completed"]
    assert [r.user_id for r in rows[:4]] == [customer, None, customer, customer]


# --- email confirmation: the notice in Mi oficina and "Reenviar el correo" -------------------

def test_an_unconfirmed_email_shows_a_notice_with_a_rate_limited_resend(app, client, customer):
    sign_in(client, "usuPDFactura1")
    html = text(client.get("/mi-oficina"))
    assert "Confirma tu correo electrónico" in html and "Reenviar el correo" in html
    token = hidden(html, "csrf_token")
    codes = [client.post("/mi-oficina/reenviar-confirmacion",
                         data={"csrf_token": token, "next": "/mi-oficina"}).status_code
             for _ in range(4)]
    assert codes == [303, 303, 303, 429]
    mails = [m for m in outbox(app) if m.subject == "Confirma tu correo electrónico"]
    assert len(mails) == 3
    link = re.search(r"http://127\.0\.0\.1:5000(/confirmar-correo/\S+)", mails[-1].body_text)
    page = client.get(link.group(1))
    client.post(link.group(1), data={"csrf_token": hidden(text(page), "csrf_token")})
    assert "Reenviar el correo" not in text(client.get("/mi-oficina"))
    assert len(events(app, "email_confirmation_resent")) == 3
