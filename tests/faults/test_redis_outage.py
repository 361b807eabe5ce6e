"""Redis stops while customers use the portal, then comes back.

The documented choice (docs/deploy.md): sessions live in Redis, so while it is down a
browser that brings a session is answered 503 (signing in is refused the same way), public
pages still show, and rate limits count in memory. Nothing answers 500, no session is
written over, and once Redis is back the same session and the same processes go on.
"""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import func, select

from ov.extensions import db
from ov.models import AuditEvent, utcnow
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
    started = utcnow()
    with down(own_redis):
        page = client.get("/entrar")  # a public page still shows
        assert page.status_code == 200
        answer = client.post("/entrar", data={
            "csrf_token": hidden(text(page), "csrf_token"), "usuario": customer_name,
            "contrasena": PASSWORD})
        assert_outage_page(answer)  # the right password: refused all the same, no session
        assert client.get_cookie("ov") is None
        wrong = client.post("/entrar", data={
            "csrf_token": hidden(text(page), "csrf_token"), "usuario": customer_name,
            "contrasena": "Equivocada123"})
        assert_outage_page(wrong)  # the same answer: the outage tells nothing of the password
    with portal.app_context():  # and nothing of either attempt was recorded
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.kind.in_(["login_succeeded", "login_failed"]),
            AuditEvent.at >= started)) == 0
        db.session.remove()
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


def test_rate_limits_count_in_memory_while_redis_is_down(portal, own_redis, monkeypatch):
    from ov import rate_limits

    monkeypatch.setattr(rate_limits, "STORE_PROBE_SECONDS", 0.0)  # ask at every count
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


def test_a_store_that_is_down_is_asked_again_at_most_every_few_seconds(portal, own_redis,
                                                                       monkeypatch):
    """A Redis that hangs costs its timeout at each ask: counts made while it is down do
    not each ask it whether it is back."""
    from ov import rate_limits
    from ov.extensions import limiter

    asked = []
    with portal.test_request_context("/"), down(own_redis):
        assert take(Allowance("5 per hour", "prueba-sondeo")) == 0  # finds it down
        monkeypatch.setattr(type(limiter.storage), "check",
                            lambda self: asked.append(1) or False)
        monkeypatch.setattr(rate_limits, "_probed_at", [0.0])
        for _ in range(4):
            take(Allowance("5 per hour", "prueba-sondeo"))
    assert len(asked) == 1
