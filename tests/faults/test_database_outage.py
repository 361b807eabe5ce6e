"""PostgreSQL stops while customers use the portal, then comes back.

Every page answers the Spanish 503 page with ``Retry-After`` (signed in or not, with the
session in Redis or in the database itself), built without the database: the page is the
portal's own layout, not the plain fallback. ``/healthz`` keeps answering, ``/readyz`` says
the database is down, and once it is back the same processes serve again: no restart.
"""

from __future__ import annotations

import pytest

from ov.extensions import db
from tests.faults.conftest import down
from tests.support.factories import hold_seed_contract
from tests.support.journeys import hidden, sign_in

PRIVATE_PAGES = ["/mi-oficina", "/mi-oficina/facturas", "/mi-oficina/pagos",
                 "/mi-oficina/consumos", "/mi-oficina/datos"]
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial", "HX-Target": "main#contenido"}


def text(response) -> str:
    return response.get_data(as_text=True)


def assert_outage_page(response, *, partial: bool = False) -> None:
    body = text(response)
    assert response.status_code == 503, (response.status_code, body[:300])
    assert response.headers["Retry-After"].isdigit()
    assert int(response.headers["Retry-After"]) > 0
    assert "Servicio no disponible" in body
    assert "Traceback" not in body
    if partial:
        assert "<html" not in body  # a fragment for htmx to put in the main content
        assert response.headers.get("HX-Retarget") == "#contenido"
    else:
        # The portal's own page (its stylesheet and skip link), not the plain fallback.
        assert "/static/css/" in body
        assert 'lang="es-MX"' in body


@pytest.fixture(scope="module")
def customer_name(portal) -> str:
    with portal.app_context():
        hold_seed_contract("usuCaidaBase1")
        db.session.remove()
    return "usuCaidaBase1"


@pytest.fixture
def signed_in(portal, customer_name):
    client = portal.test_client()
    assert sign_in(client, customer_name).status_code == 303
    assert client.get("/mi-oficina").status_code == 200
    return client


def test_signed_in_pages_answer_503_while_the_database_is_down(portal, signed_in,
                                                                own_postgres):
    with down(own_postgres):
        for path in PRIVATE_PAGES:
            assert_outage_page(signed_in.get(path))
        assert_outage_page(signed_in.get("/mi-oficina/facturas", headers=PARTIAL),
                           partial=True)
    # Back: the same session works again in the same process.
    assert signed_in.get("/mi-oficina").status_code == 200


def test_anonymous_forms_answer_503_and_keep_no_half_state(portal, own_postgres):
    client = portal.test_client()
    login = text(client.get("/entrar"))
    step1 = text(client.get("/registro/paso-1"))
    with down(own_postgres):
        assert_outage_page(client.post("/entrar", data={
            "csrf_token": hidden(login, "csrf_token"), "usuario": "usuCaidaBase1",
            "contrasena": "cualquiera1"}))
        assert_outage_page(client.post("/registro/paso-1", data={
            "csrf_token": hidden(step1, "csrf_token"), "zona": "3", "cuenta": "8295249",
            "factura": "ZE40389382", "captcha_token": hidden(step1, "captcha_token")}))
        assert_outage_page(client.get("/registro/paso-1"))
    assert client.get("/registro/paso-1").status_code == 200


def test_sessions_kept_in_the_database_answer_503_not_a_signed_out_page(
        portal_without_redis, customer_name, own_postgres):
    client = portal_without_redis.test_client()
    assert sign_in(client, customer_name).status_code == 303
    with down(own_postgres):
        # The session cannot be read: the customer is not shown as signed out (which would
        # send them to sign in again for nothing), they are told to come back.
        assert_outage_page(client.get("/mi-oficina"))
        assert_outage_page(client.get("/"))
    assert client.get("/mi-oficina").status_code == 200


def test_health_and_readiness_while_the_database_is_down(portal, signed_in, own_postgres):
    with down(own_postgres):
        for client in (portal.test_client(), signed_in):
            health = client.get("/healthz")
            assert health.status_code == 200
            assert health.get_json() == {"status": "ok"}
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.get_json() == {"status": "unavailable", "database": "unavailable",
                                        "redis": "ok"}
            assert ready.headers["Retry-After"].isdigit()
    ready = portal.test_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_the_outage_page_needs_no_database(portal, own_postgres):
    """Rendering the 503 page asks nothing of the database: with it down, the page is the
    full layout (``assert_outage_page``), and no connection was even tried for it."""
    from sqlalchemy import event

    with portal.app_context():
        engine = db.engine
    attempts: list[int] = []

    def counting(*args, **kwargs):
        attempts.append(1)

    client = portal.test_client()
    with down(own_postgres):
        event.listen(engine, "do_connect", counting)
        try:
            assert_outage_page(client.get("/registro/paso-1"))
        finally:
            event.remove(engine, "do_connect", counting)
    # The view's own query tried (once, or twice with the pool's pre-ping); the page did not.
    assert 1 <= len(attempts) <= 2
