"""The bounded queue (ov/overload.py): a request the proxy stamped longer ago than
``OV_QUEUE_LIMIT_MS`` is answered 503 at once, before Flask, the session or the database."""

from __future__ import annotations

import pytest

from ov import create_app, overload
from tests.conftest import settings_for
from tests.support.queries import counting_queries

NOW = 1_764_633_600.0


@pytest.fixture
def clocked(tmp_path):
    """An app behind one trusted proxy, its queue limit 1 s, and the middleware's clock
    fixed at NOW."""
    app = create_app({**settings_for(tmp_path), "OV_TRUSTED_PROXIES": 1,
                      "OV_QUEUE_LIMIT_MS": 1000})
    limit = app.wsgi_app.app  # inside the client-address check
    assert isinstance(limit, overload.QueueLimit)
    limit.clock = lambda: NOW
    return app


def stamped(seconds_ago: float, unit: float = 1.0) -> dict:
    return {"X-Request-Start": f"t={(NOW - seconds_ago) * unit:.3f}"}


def test_a_request_that_waited_too_long_is_refused_at_once(clocked):
    with clocked.app_context(), counting_queries(clocked) as statements:
        answer = clocked.test_client().get("/entrar", headers=stamped(1.5))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(overload.RETRY_SECONDS)
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in answer.headers
    body = answer.get_data(as_text=True)
    assert "Servicio no disponible" in body and 'lang="es-MX"' in body
    assert "/static/css/ov.css?v=" in body
    assert "Set-Cookie" not in answer.headers  # no session was opened
    assert len(answer.headers["X-Request-ID"]) == 32  # for the access log, as every answer
    assert statements == []


@pytest.mark.parametrize("unit", [1.0, 1e3, 1e6], ids=["seconds", "milliseconds", "micro"])
def test_the_stamp_is_read_in_seconds_milliseconds_or_microseconds(clocked, unit):
    client = clocked.test_client()
    assert client.get("/entrar", headers=stamped(0.2, unit)).status_code == 200
    assert client.get("/entrar", headers=stamped(3, unit)).status_code == 503


@pytest.mark.parametrize("value", ["", "t=", "t=abc", "t=nan", "t=-5", "mañana"])
def test_a_missing_or_unreadable_stamp_means_not_queued(clocked, value):
    assert clocked.test_client().get("/entrar",
                                     headers={"X-Request-Start": value}).status_code == 200


def test_a_stamp_from_a_client_that_is_not_a_proxy_is_ignored(clocked):
    """Straight to the app (gunicorn reachable directly), nobody's stamp is believed: not
    to refuse, and not for the incident id either."""
    client = clocked.test_client()
    direct = {"REMOTE_ADDR": "203.0.113.7"}
    answer = client.get("/entrar", headers={**stamped(30), "X-Request-ID": "elegido-por-mi"},
                        environ_base=direct)
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] != "elegido-por-mi"
    through_proxy = client.get("/entrar", headers={"X-Request-ID": "elegido-por-nginx"})
    assert through_proxy.headers["X-Request-ID"] == "elegido-por-nginx"


def test_the_health_checks_are_never_refused(clocked):
    client = clocked.test_client()
    assert client.get("/healthz", headers=stamped(60)).status_code == 200
    assert client.get("/readyz", headers=stamped(60)).status_code == 200


@pytest.mark.parametrize(("proxies", "limit"), [(0, 1000), (1, 0)],
                         ids=["no-trusted-proxy", "limit-off"])
def test_without_a_trusted_proxy_or_a_limit_the_stamp_is_ignored(tmp_path, proxies, limit):
    app = create_app({**settings_for(tmp_path), "OV_TRUSTED_PROXIES": proxies,
                      "OV_QUEUE_LIMIT_MS": limit})
    assert not isinstance(app.wsgi_app.app, overload.QueueLimit)
    assert app.test_client().get("/entrar", headers={
        "X-Request-Start": "t=1000000000.000"}).status_code == 200


def test_refusals_are_logged_once_per_period_with_their_count(caplog):
    calls = []
    times = iter([NOW, NOW + 1, NOW + 2, NOW + 11])
    limit = overload.QueueLimit(lambda environ, start: calls.append(1) or [b""], 1000,
                                overload.page(), clock=lambda: next(times))
    caplog.set_level("WARNING", logger="ov.overload")
    for _ in range(4):
        limit({"HTTP_X_REQUEST_START": f"t={NOW - 30}", "PATH_INFO": "/", "ov.via_proxy": True},
              lambda status, headers: None)
    assert calls == []  # the app never ran
    assert [record.getMessage() for record in caplog.records] == [
        "overload: 1 request(s) waited over 1000 ms and were answered 503",
        "overload: 3 request(s) waited over 1000 ms and were answered 503",
    ]


def test_the_limit_must_be_between_0_and_a_minute(tmp_path):
    from ov.config import ConfigError

    with pytest.raises(ConfigError, match="OV_QUEUE_LIMIT_MS"):
        create_app({**settings_for(tmp_path), "OV_QUEUE_LIMIT_MS": 120000})


def test_the_refusal_page_is_valid_html(clocked, tmp_path):
    from tests.support.nu import Documents, describe

    documents = Documents(tmp_path)
    body = clocked.test_client().get("/", headers=stamped(5)).get_data(as_text=True)
    documents.add("overload-503", body)
    found = documents.errors()
    assert not found, describe(found)
