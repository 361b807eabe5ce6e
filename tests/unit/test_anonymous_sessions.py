"""A visitor who only looks at pages leaves nothing on the server: the raw CSRF token of a
session that holds nothing else travels in a signed cookie, and a server-side session (a row,
or a Redis key) starts only when something else is written. Static files and the health
checks never read a session at all."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from ov import create_app
from ov.extensions import db
from ov.sessions import SessionRecord
from tests.conftest import (
    RUN_ID,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    production_settings,
    reset_schema,
    settings_for,
)
from tests.support.factories import customer_with_invoices
from tests.support.journeys import PASSWORD, hidden
from tests.support.queries import counting_queries

pytestmark = pytest.mark.usefixtures("clean_db")

LOOKING = ["/", "/entrar", "/registro/paso-1", "/atencion-al-cliente", "/ayuda/factura",
           "/aviso-de-privacidad", "/recuperar"]
NOT_A_PAGE = ["/static/css/ov.css", "/healthz"]


@pytest.fixture
def redis_app(tmp_path):
    """An app whose sessions are Redis keys under a prefix of this test's own."""
    import redis

    prefix = f"ov-test-{RUN_ID}-{tmp_path.name}:session:"
    application = create_app({**settings_for(tmp_path), "OV_REDIS_URL": TEST_REDIS_URL,
                              "SESSION_KEY_PREFIX": prefix})
    if not TEST_DATABASE_URL:
        reset_schema(application)
    store = redis.Redis.from_url(TEST_REDIS_URL)
    application.session_keys = lambda: list(store.scan_iter(match=prefix + "*"))
    yield application
    for key in application.session_keys():
        store.delete(key)
    store.close()
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SessionRecord))


def login_form(client) -> dict:
    page = client.get("/entrar").get_data(as_text=True)
    return {"csrf_token": hidden(page, "csrf_token"), "usuario": "usuPDFactura1",
            "contrasena": PASSWORD}


# --- nothing stored for a visitor who looks -------------------------------------------------

@pytest.mark.parametrize("url", LOOKING)
def test_a_cookieless_look_leaves_no_row_and_no_session_cookie(sql_app, url):
    client = sql_app.test_client()
    response = client.get(url)
    assert response.status_code == 200
    assert rows(sql_app) == 0
    assert client.get_cookie("ov") is None


@pytest.mark.redis
@pytest.mark.parametrize("url", LOOKING)
def test_a_cookieless_look_leaves_no_redis_key(redis_app, url):
    client = redis_app.test_client()
    assert client.get(url).status_code == 200
    assert redis_app.session_keys() == []
    assert client.get_cookie("ov") is None


def test_the_form_keeps_its_token_field_and_the_token_cookie_is_signed_httponly_lax(sql_app):
    client = sql_app.test_client()
    response = client.get("/entrar")
    assert 'name="csrf_token" value="' in response.get_data(as_text=True)
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("ov_csrf="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    cookie = client.get_cookie("ov_csrf").value
    # Signed: the raw token is in it, with a signature over it.
    assert re.fullmatch(r"[0-9a-f]{40}\.[\w-]+\.[\w-]+", cookie), cookie
    # A second look reuses the token: no new cookie, still nothing stored.
    again = client.get("/registro/paso-1")
    assert not [h for h in again.headers.getlist("Set-Cookie") if h.startswith("ov_csrf=")]
    assert rows(sql_app) == 0


def test_in_production_the_token_cookie_is_secure_with_the_host_prefix(tmp_path):
    app = create_app({**production_settings(tmp_path), "OV_REDIS_URL": ""})
    if not TEST_DATABASE_URL:
        reset_schema(app)
    response = app.test_client().get("/entrar", base_url="https://localhost")
    header = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith("__Host-ov_csrf="))
    assert "Secure" in header and "HttpOnly" in header and "Path=/" in header
    assert "Domain" not in header


# --- CSRF as strong as before ----------------------------------------------------------------

def test_a_login_from_that_page_works_and_only_then_a_session_is_stored(sql_app):
    customer_with_invoices(sql_app, 1)
    client = sql_app.test_client()
    form = login_form(client)
    assert rows(sql_app) == 0
    response = client.post("/entrar", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    assert rows(sql_app) == 1
    # The stored session took over the token: the light cookie is gone.
    assert client.get_cookie("ov_csrf") is None and client.get_cookie("ov") is not None
    assert client.get("/mi-oficina").status_code == 200


@pytest.mark.redis
def test_with_redis_a_login_from_that_page_works(redis_app):
    customer_with_invoices(redis_app, 1)
    client = redis_app.test_client()
    response = client.post("/entrar", data=login_form(client))
    assert response.status_code == 303
    assert len(redis_app.session_keys()) == 1
    assert client.get("/mi-oficina").status_code == 200


def test_a_forged_or_missing_token_is_still_refused(sql_app):
    customer_with_invoices(sql_app, 1)
    client = sql_app.test_client()
    form = login_form(client)
    for data in ({**form, "csrf_token": "inventado"}, {k: v for k, v in form.items()
                                                       if k != "csrf_token"}):
        response = client.post("/entrar", data=data)
        assert response.status_code == 400
        assert client.get_cookie("ov") is None
    assert rows(sql_app) == 0


def test_a_token_from_another_browser_or_a_tampered_cookie_is_refused(sql_app):
    customer_with_invoices(sql_app, 1)
    mine, theirs = sql_app.test_client(), sql_app.test_client()
    their_form = login_form(theirs)
    login_form(mine)
    # My cookie, their form's token: the tokens do not match.
    assert mine.post("/entrar", data=their_form).status_code == 400
    # Their token, and a cookie whose raw token was changed: the signature fails.
    cookie = theirs.get_cookie("ov_csrf").value
    raw, rest = cookie.split(".", 1)
    forged = sql_app.test_client()
    forged.set_cookie("ov_csrf", ("0" * 40) + "." + rest)
    assert forged.post("/entrar", data=their_form).status_code == 400
    forged.set_cookie("ov_csrf", raw)  # unsigned
    assert forged.post("/entrar", data=their_form).status_code == 400
    assert rows(sql_app) == 0


def test_a_form_whose_token_cookie_is_gone_gets_the_page_expired_answer(sql_app):
    client = sql_app.test_client()
    form = login_form(client)
    client.delete_cookie("ov_csrf")
    response = client.post("/entrar", data={**form, "conservar": "usuario"},
                           headers={"Sec-Fetch-Site": "same-origin"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "La página caducó" in html
    assert 'value="usuPDFactura1"' in html  # the answers are kept
    assert rows(sql_app) == 0  # and the fresh token went into a cookie again
    retry = {"csrf_token": hidden(html, "csrf_token"), "usuario": "usuPDFactura1",
             "contrasena": "x"}
    assert client.post("/entrar", data=retry).status_code != 400


def test_sign_out_still_ends_the_server_record(sql_app):
    customer_with_invoices(sql_app, 1)
    client = sql_app.test_client()
    assert client.post("/entrar", data=login_form(client)).status_code == 303
    with sql_app.app_context():
        before = set(db.session.scalars(select(SessionRecord.session_id)))
    token = hidden(client.get("/mi-oficina").get_data(as_text=True), "csrf_token")
    assert client.post("/salir", data={"csrf_token": token}).status_code in (302, 303)
    with sql_app.app_context():
        after = set(db.session.scalars(select(SessionRecord.session_id)))
    assert not before & after  # the signed-in record is gone
    assert client.get("/mi-oficina").status_code == 302


# --- no session at all for static files and the health check ---------------------------------

def signed_in(app):
    customer_with_invoices(app, 1)
    client = app.test_client()
    assert client.post("/entrar", data=login_form(client)).status_code == 303
    return client


@pytest.mark.parametrize("url", NOT_A_PAGE)
def test_static_files_and_healthz_read_no_session(sql_app, url):
    client = signed_in(sql_app)
    with counting_queries(sql_app) as statements:
        response = client.get(url)
    assert response.status_code == 200
    assert statements == []
    assert "Cookie" not in response.headers.get("Vary", "")
    assert not response.headers.getlist("Set-Cookie")


@pytest.mark.redis
@pytest.mark.parametrize("url", NOT_A_PAGE)
def test_with_redis_static_files_and_healthz_read_no_session(redis_app, url):
    client = signed_in(redis_app)
    interface = redis_app.session_interface
    calls: list[str] = []
    real = interface.client

    class Counting:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(real, name)

    interface.client = Counting()
    try:
        response = client.get(url)
        assert response.status_code == 200
        assert calls == []
        assert "Cookie" not in response.headers.get("Vary", "")
        client.get("/mi-oficina")  # a page does read the session through the same client
        assert "get" in calls
    finally:
        interface.client = real
