"""The documented deployment, for real: nginx with deploy/nginx/oficina-virtual.conf (TLS with
a certificate made here) in front of gunicorn with ov.gunicorn_config, configured from
deploy/oficina-virtual.env (OV_ENV=production) on a SQLite instance migrated first, as
docs/deploy.md orders. Ports are free ones on 127.0.0.1; the module starts and stops both."""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import brotli
import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.support import app_servers as servers
from tests.support.journeys import hidden
from tests.unit.test_production import example_settings

SITE = servers.ROOT / "deploy" / "nginx" / "oficina-virtual.conf"
HOST = "oficinavirtual.example"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRONG = {"usuario": "usuNadie0001", "contrasena": "Equivocada1"}


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the portal's name and 127.0.0.1."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return cert, key


def render_site(folder: Path, *, app_port: int, http_port: int, https_port: int, cert: Path,
                key: Path) -> str:
    """The example site with this test's ports, certificate and log folder. Each change must
    find its line: if the example changes shape, this fails instead of testing something else."""
    text = SITE.read_text()
    changes = [
        ("server 127.0.0.1:8000 ", f"server 127.0.0.1:{app_port} ", 1),
        ("listen 80;", f"listen 127.0.0.1:{http_port};", 1),
        ("listen [::]:80;", "", 1),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", 1),
        ("listen [::]:443 ssl http2;", "", 1),
        ("/etc/ssl/oficina-virtual/fullchain.pem", str(cert), 1),
        ("/etc/ssl/oficina-virtual/privkey.pem", str(key), 1),
        ("/var/log/nginx/", f"{folder}/", 3),
    ]
    for old, new, count in changes:
        assert text.count(old) == count, f"the example no longer has {old!r} {count} time(s)"
        text = text.replace(old, new)
    return text


def main_config(folder: Path) -> str:
    """An nginx.conf like the distribution's (gzip on for every site) that includes the site."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read this folder
    temp = "\n".join(f"    {name}_temp_path {folder}/{name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {folder}/main.access.log;
    gzip on;
    gzip_types text/plain text/css application/json application/javascript text/xml;
{temp}
    include {folder}/site.conf;
}}
"""


@dataclass
class Stack:
    https: str
    http: str
    cert: Path
    folder: Path
    database: Path

    def session(self, source: str = "127.0.0.1") -> requests.Session:
        """A client connecting from ``source`` (any 127.x address is this machine)."""
        browser = requests.Session()
        browser.trust_env = False  # REQUESTS_CA_BUNDLE would replace the certificate below
        browser.verify = str(self.cert)
        browser.headers.update({"Host": HOST})
        browser.mount("https://", SourceAdapter(source))
        return browser


class SourceAdapter(HTTPAdapter):
    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def tls_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def nginx_in_front_of(folder: Path, app_port: int) -> Iterator[tuple[int, int, Path]]:
    """nginx with the example site sending to ``app_port``; yields (https, http, cert)."""
    cert, key = certificate(folder)
    http_port, https_port = servers.free_port(), servers.free_port()
    (folder / "site.conf").write_text(render_site(
        folder, app_port=app_port, http_port=http_port, https_port=https_port, cert=cert,
        key=key))
    (folder / "nginx.conf").write_text(main_config(folder))
    checked = subprocess.run([NGINX, "-t", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    log = folder / "nginx.out"
    with log.open("wb") as output:
        nginx = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
            stdout=output, stderr=subprocess.STDOUT)
    try:
        servers.wait_until(lambda: tls_answers(https_port), nginx, log, "nginx")
        yield https_port, http_port, cert
    finally:
        servers.stop(nginx)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("deploy")
    os.chmod(folder, 0o755)
    instance = folder / "instance"
    instance.mkdir()
    env = servers.clean_environment(**example_settings())
    env.update(OV_SECRET_KEY="s" * 64, OV_INSTANCE_PATH=str(instance), OV_REDIS_URL="",
               OV_DATABASE_URL=f"sqlite:///{instance / 'ov.sqlite3'}",
               OV_UPLOAD_DIR=str(instance / "uploads"), OV_THREADS="4",
               # One process: without Redis each would count the address limit on its own.
               OV_WORKERS="1")
    (instance / "config.py").write_text('OV_LOGIN_IP_LIMIT = "3 per 15 minutes"\n')
    servers.migrate(env)  # first the schema, then the app processes
    app_port = servers.free_port()
    with servers.gunicorn(env, folder / "gunicorn.log", port=app_port), \
            nginx_in_front_of(folder, app_port) as (https_port, http_port, cert):
        yield Stack(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}",
                    cert, folder, instance / "ov.sqlite3")


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
