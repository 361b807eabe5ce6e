"""Redis stops while customers use the portal, then comes back.

The documented choice (docs/deploy.md): sessions live in Redis, so while it is down a
browser that brings a session is answered 503 (signing in is refused the same way), public
pages still show, and rate limits count in memory. Nothing answers 500, no session is
written over, and once Redis is back the same session and the same processes go on.
"""

from __future__ import annotations

import pytest
import redis

from ov.extensions import db
from ov.rate_limits import Allowance, take
from tests.faults.conftest import down
from tests.faults.test_database_outage import assert_outage_page
from tests.support.factories import hold_seed_contract
from tests.support.journeys import PASSWORD, hidden, sign_in


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(scope="module")
def customer_name(portal) -> str:
    with portal.app_context():
        hold_seed_contract("usuCaidaRedis1")
        db.session.remove()
    return "usuCaidaRedis1"


def test_a_signed_in_customer_is_told_to_come_back_and_keeps_the_session(
        portal, customer_name, own_redis):
    client = portal.test_client()
    assert sign_in(client, customer_name).status_code == 303
    with down(own_redis):
        assert_outage_page(client.get("/mi-oficina"))
        assert_outage_page(client.get("/mi-oficina/facturas"))
    assert client.get("/mi-oficina").status_code == 200


def test_signing_in_is_refused_with_503_while_redis_is_down(portal, customer_name,
                                                            own_redis):
    client = portal.test_client()
    with down(own_redis):
        page = client.get("/entrar")  # a public page still shows
        assert page.status_code == 200
        answer = client.post("/entrar", data={
            "csrf_token": hidden(text(page), "csrf_token"), "usuario": customer_name,
            "contrasena": PASSWORD})
        assert_outage_page(answer)  # the right password: refused all the same, no session
        assert client.get_cookie("ov") is None
    # Back: the form from the outage is only "expired" (its answers kept), and a new
    # sign-in works.
    assert sign_in(client, customer_name).status_code == 303
    assert client.get("/mi-oficina").status_code == 200


def test_readiness_names_redis_while_it_is_down(portal, own_redis):
    client = portal.test_client()
    with down(own_redis):
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json() == {"status": "unavailable", "database": "ok",
                                    "redis": "unavailable"}
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok",
                                                "redis": "ok"}


def test_rate_limits_count_in_memory_while_redis_is_down(portal, own_redis):
    allowance = Allowance("2 per hour", "prueba-caida-redis")
    with portal.test_request_context("/"), down(own_redis):
        assert [take(allowance) for _ in range(3)][:2] == [0, 0]
        assert take(allowance) > 0  # the third and later are refused, counted in memory
    store = redis.Redis.from_url(own_redis.url)
    try:
        assert not any(b"prueba-caida-redis" in key for key in store.scan_iter())
        # Back: the next count finds Redis again, and goes there.
        with portal.test_request_context("/"):
            assert take(Allowance("2 per hour", "prueba-redis-vuelve")) == 0
        assert any(b"prueba-redis-vuelve" in key for key in store.scan_iter())
    finally:
        store.close()
