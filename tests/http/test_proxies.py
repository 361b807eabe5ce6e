"""Forwarded headers count only from the configured proxies, for exactly the configured hops,
and only a valid address ever becomes the client's: what the rate limits count and the audit
table records. First through the test client, then through a real gunicorn."""

from __future__ import annotations

import pytest
import requests
from flask import Flask, request
from sqlalchemy import select

from ov import create_app
from ov.addresses import ClientAddress, parse_proxy_addresses
from ov.extensions import db
from ov.models import AuditEvent
from tests.conftest import settings_for
from tests.support import app_servers as servers
from tests.support.journeys import hidden

FORGED = "203.0.113.9"
WRONG = {"usuario": "usuNadie0001", "contrasena": "Equivocada1"}


def peer_app(tmp_path, **config) -> Flask:
    """An app of its own with a page that says what the app took as the client."""
    app = create_app({**settings_for(tmp_path),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'peer.sqlite3'}",
                      **config})

    @app.get("/_cliente")
    def seen():
        return f"{request.remote_addr or '-'} {request.scheme}"

    return app


def seen(app: Flask, peer: str, headers: dict[str, str]) -> str:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    return client.get("/_cliente", headers=headers).get_data(as_text=True)


def test_without_proxies_the_forwarded_headers_are_ignored(tmp_path):
    app = peer_app(tmp_path)
    assert seen(app, "127.0.0.1", {"X-Forwarded-For": FORGED,
                                   "X-Forwarded-Proto": "https"}) == "127.0.0.1 http"


def test_one_proxy_is_believed_only_when_it_is_the_direct_peer(tmp_path):
    app = peer_app(tmp_path, OV_TRUSTED_PROXIES=1)
    forwarded = {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"}
    assert seen(app, "127.0.0.1", forwarded) == f"{FORGED} https"  # nginx on this machine
    assert seen(app, "::1", forwarded) == f"{FORGED} https"
    assert seen(app, "198.51.100.7", forwarded) == "198.51.100.7 http"  # a client, direct


def test_a_proxy_elsewhere_is_named_by_address_or_network(tmp_path):
    app = peer_app(tmp_path, OV_TRUSTED_PROXIES=1, OV_PROXY_ADDRESSES="10.1.0.0/16")
    assert seen(app, "10.1.4.2", {"X-Forwarded-For": FORGED}) == f"{FORGED} http"
    assert seen(app, "127.0.0.1", {"X-Forwarded-For": FORGED}) == "127.0.0.1 http"


@pytest.mark.parametrize("forwarded", [
    "<script>alert(1)</script>", "'; DROP TABLE audit_event; --", "unknown",
    "fe80::1%<b>zona</b>", "203.0.113.9:443", "2001:db8::1" + "0" * 50, "",
])
def test_text_that_is_not_an_address_falls_back_to_the_peer(tmp_path, forwarded):
    app = peer_app(tmp_path, OV_TRUSTED_PROXIES=1)
    assert seen(app, "127.0.0.1", {"X-Forwarded-For": forwarded}) == "127.0.0.1 http"


def test_an_address_is_kept_in_its_canonical_spelling(tmp_path):
    app = peer_app(tmp_path, OV_TRUSTED_PROXIES=1)
    assert seen(app, "127.0.0.1", {"X-Forwarded-For": " 2001:DB8:0::7 "}) == "2001:db8::7 http"


def test_exactly_the_configured_hops_are_read(tmp_path):
    one = peer_app(tmp_path, OV_TRUSTED_PROXIES=1)
    # What the client wrote first is not the client: nginx's own entry, the last, is.
    assert seen(one, "127.0.0.1", {"X-Forwarded-For": f"{FORGED}, 192.0.2.44"}) \
        == "192.0.2.44 http"
    two = peer_app(tmp_path, OV_TRUSTED_PROXIES=2, OV_PROXY_ADDRESSES="127.0.0.1, 10.0.0.0/8")
    chain = {"X-Forwarded-For": f"{FORGED}, 192.0.2.44, 10.0.0.5",
             "X-Forwarded-Proto": "https, http"}
    assert seen(two, "127.0.0.1", chain) == "192.0.2.44 https"
    # Too few entries, or a hop in between that is not one of the proxies: the peer.
    assert seen(two, "127.0.0.1", {"X-Forwarded-For": "10.0.0.5"}) == "127.0.0.1 http"
    assert seen(two, "127.0.0.1", {"X-Forwarded-For": f"192.0.2.44, {FORGED}"}) \
        == "127.0.0.1 http"


def test_a_unix_socket_peer_is_a_proxy_only_when_listed(tmp_path):
    listed = peer_app(tmp_path, OV_TRUSTED_PROXIES=1)
    assert seen(listed, "", {"X-Forwarded-For": FORGED}) == f"{FORGED} http"
    unlisted = peer_app(tmp_path, OV_TRUSTED_PROXIES=1, OV_PROXY_ADDRESSES="127.0.0.1")
    assert seen(unlisted, "", {"X-Forwarded-For": FORGED}) == "- http"


def test_a_peer_that_is_not_an_address_becomes_none(tmp_path):
    app = peer_app(tmp_path)
    assert seen(app, "no es una dirección", {}) == "- http"


# --- the portal's own rate limits and audit table, through the test client ------------------

@pytest.fixture
def behind_one_proxy(app, monkeypatch):
    """The suite's app, as if OV_TRUSTED_PROXIES=1 with the default proxy addresses."""
    inner = app.wsgi_app.app
    proxies, unix = parse_proxy_addresses("127.0.0.1, ::1")
    monkeypatch.setattr(app, "wsgi_app", ClientAddress(inner, hops=1, proxies=proxies,
                                                       unix=unix))
    return app


def failed_login(client, headers: dict[str, str]) -> int:
    token = hidden(client.get("/entrar").get_data(as_text=True), "csrf_token")
    return client.post("/entrar", data={"csrf_token": token, **WRONG},
                       headers=headers).status_code


def audit_addresses(app: Flask) -> list[str | None]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.client_address)
                                       .where(AuditEvent.kind == "login_failed")
                                       .order_by(AuditEvent.id)))


@pytest.mark.usefixtures("clean_db")
def test_forged_headers_never_write_text_into_the_audit_table(behind_one_proxy):
    app = behind_one_proxy
    client = app.test_client()
    assert failed_login(client, {"X-Forwarded-For": "<b>hola</b>"}) == 422
    assert failed_login(client, {"X-Forwarded-For": FORGED}) == 422
    assert audit_addresses(app) == ["127.0.0.1", FORGED]


@pytest.mark.usefixtures("clean_db")
def test_forged_headers_from_a_client_do_not_renew_its_allowance(behind_one_proxy,
                                                                  monkeypatch):
    app = behind_one_proxy
    monkeypatch.setitem(app.config, "OV_LOGIN_IP_LIMIT", "2 per 15 minutes")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"  # reaching the app directly
    codes = [failed_login(client, {"X-Forwarded-For": f"192.0.2.{n}"}) for n in range(1, 4)]
    assert codes == [422, 422, 429]
    assert audit_addresses(app) == ["198.51.100.7", "198.51.100.7"]


# --- through a real gunicorn ----------------------------------------------------------------

@pytest.fixture
def instance(tmp_path):
    env = servers.clean_environment(OV_INSTANCE_PATH=str(tmp_path), OV_MAIL_BACKEND="locmem",
                                    OV_ENV="development")
    servers.migrate(env)
    return env


def http_failed_login(base: str, headers: dict[str, str]) -> int:
    with requests.Session() as browser:
        page = browser.get(base + "/entrar", timeout=30)
        token = hidden(page.text, "csrf_token")
        return browser.post(base + "/entrar", data={"csrf_token": token, **WRONG},
                            headers=headers, timeout=30).status_code


def test_gunicorn_reached_directly_is_not_fooled_by_forged_headers(instance, tmp_path):
    (tmp_path / "config.py").write_text('OV_LOGIN_IP_LIMIT = "2 per 15 minutes"\n')
    env = {**instance, "OV_TRUSTED_PROXIES": "1", "OV_PROXY_ADDRESSES": "192.0.2.10"}
    with servers.gunicorn(env, tmp_path / "gunicorn.log") as base:
        codes = [http_failed_login(base, {"X-Forwarded-For": f"198.51.100.{n}"})
                 for n in range(1, 4)]
    assert codes == [422, 422, 429]
    assert servers.audit_addresses(tmp_path / "ov.sqlite3", "login_failed") \
        == ["127.0.0.1", "127.0.0.1"]


def test_gunicorn_behind_a_local_proxy_takes_its_address_and_nothing_else(instance,
                                                                           tmp_path):
    env = {**instance, "OV_TRUSTED_PROXIES": "1"}
    with servers.gunicorn(env, tmp_path / "gunicorn.log") as base:
        codes = [http_failed_login(base, {"X-Forwarded-For": value})
                 for value in (FORGED, "<script>x</script>", "2001:DB8::1")]
    assert codes == [422, 422, 422]
    assert servers.audit_addresses(tmp_path / "ov.sqlite3", "login_failed") \
        == [FORGED, "127.0.0.1", "2001:db8::1"]
