"""The documented deployment, for real: nginx with deploy/nginx/oficina-virtual.conf (TLS with
a certificate made here) in front of gunicorn with ov.gunicorn_config, configured from
deploy/oficina-virtual.env (OV_ENV=production) on a SQLite instance migrated first, as
docs/deploy.md orders (tests/support/deployment.py). Ports are free ones on 127.0.0.1; the
module starts and stops both."""

from __future__ import annotations

import gzip
import http.client
import os
import re
import socket
import ssl
from collections.abc import Iterator

import brotli
import pytest
import requests

from tests.support import app_servers as servers
from tests.support import deployment
from tests.support.deployment import HOST, Stack, nginx_in_front_of
from tests.support.journeys import hidden

WRONG = {"usuario": "usuNadie0001", "contrasena": "Equivocada1"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with deployment.running(tmp_path_factory.mktemp("deploy"),
                            instance_config='OV_LOGIN_IP_LIMIT = "3 per 15 minutes"\n') as running:
        yield running


def failed_login(browser: requests.Session, stack: Stack, forged: str) -> int:
    token = hidden(browser.get(stack.https + "/entrar", timeout=30).text, "csrf_token")
    return browser.post(
        stack.https + "/entrar", data={"csrf_token": token, **WRONG}, timeout=30,
        headers={"X-Forwarded-For": forged, "Referer": f"https://{HOST}/entrar"},
    ).status_code


def test_tls_answers_with_the_home_page_and_plain_http_moves_to_https(stack):
    with stack.session() as browser:
        home = browser.get(stack.https + "/", timeout=30)
        assert home.status_code == 200 and "Oficina Virtual" in home.text
        assert home.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert "Server" not in home.headers or "gunicorn" not in home.headers["Server"]
    moved = requests.get(stack.http + "/entrar", headers={"Host": HOST}, timeout=30,
                         allow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"https://{HOST}/entrar"
    context = ssl.create_default_context(cafile=str(stack.cert))
    port = int(stack.https.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=HOST) as tls:
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}


def test_the_app_sees_the_real_client_even_when_it_forges_x_forwarded_for(stack):
    with stack.session("127.0.0.2") as forger, stack.session("127.0.0.3") as neighbour:
        codes = [failed_login(forger, stack, f"198.51.100.{n}") for n in range(1, 5)]
        other = failed_login(neighbour, stack, "198.51.100.1")
    # The per-address limit (3 here) counts the client nginx saw, whatever it wrote.
    assert codes == [422, 422, 422, 429]
    assert other == 422
    assert servers.audit_addresses(stack.database, "login_failed") \
        == ["127.0.0.2"] * 3 + ["127.0.0.3"]


def test_a_static_file_gets_the_long_cache_and_one_compression(stack):
    with stack.session() as browser:
        page = browser.get(stack.https + "/", timeout=30).text
        (url,) = set(re.findall(r'href="(/static/css/ov\.css\?v=[0-9a-f]+)"', page))
        raw = browser.get(stack.https + url, headers={"Accept-Encoding": "br"}, timeout=30,
                          stream=True).raw
        body = raw.read(decode_content=False)
        headers = raw.headers
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Encoding"] == "br"
    assert b"{" in brotli.decompress(body)


def test_a_dynamic_page_is_compressed_once_by_the_app_and_never_by_nginx(stack):
    port = int(stack.https.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(stack.cert))

    def fetch(path: str) -> tuple[http.client.HTTPResponse, bytes]:
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context,
                                                 timeout=30)
        connection.request("GET", path, headers={"Host": HOST, "Accept-Encoding": "gzip"})
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response, body

    page, body = fetch("/entrar")
    assert page.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(body).lstrip().lower().startswith(b"<!doctype html")
    # An answer the app leaves plain (too small to pay) stays plain: nginx adds nothing.
    health, body = fetch("/readyz")
    assert health.getheader("Content-Encoding") is None
    assert body.startswith(b"{")


def test_a_body_over_the_photo_limit_is_refused_by_nginx_in_spanish(stack):
    port = int(stack.https.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(stack.cert))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    connection.putrequest("POST", "/mi-oficina/consumos/lectura", skip_host=True)
    connection.putheader("Host", HOST)
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(17 * 1024 * 1024))
    connection.endheaders()
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    assert response.status == 413
    assert 'lang="es-MX"' in text and "demasiado grande" in text


def test_metrics_are_not_served_to_the_public(stack):
    with stack.session("127.0.0.2") as outsider:
        assert outsider.get(stack.https + "/metrics", timeout=30).status_code == 403


def test_the_access_log_keeps_no_token_and_no_query(stack):
    with stack.session() as browser:
        browser.get(stack.https + "/recuperar/enlace/SECRETO-DEL-ENLACE", timeout=30)
        browser.get(stack.https + "/entrar?usuario=usuPrivado99", timeout=30)
    log = (stack.folder / "oficina-virtual.access.log").read_text()
    assert "/recuperar/enlace/[oculto]" in log
    assert "SECRETO-DEL-ENLACE" not in log and "usuPrivado99" not in log


def test_with_no_app_process_answering_nginx_says_so_in_spanish(tmp_path):
    os.chmod(tmp_path, 0o755)
    with nginx_in_front_of(tmp_path, servers.free_port()) as (https_port, _, cert):
        context = ssl.create_default_context(cafile=str(cert))
        connection = http.client.HTTPSConnection("127.0.0.1", https_port, context=context,
                                                 timeout=30)
        connection.request("GET", "/mi-oficina", headers={"Host": HOST})
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
    assert response.status == 503
    assert response.getheader("Retry-After") == "30"
    assert 'lang="es-MX"' in text and "no está disponible" in text
