"""The documented deployment, for real: nginx with deploy/nginx/oficina-virtual.conf (TLS with
a self-signed certificate made here) in front of gunicorn with ov.gunicorn_config, configured
from deploy/oficina-virtual.env (OV_ENV=production) on a SQLite instance migrated first, as
docs/deploy.md orders. Ports are free ones on 127.0.0.1; ``running`` starts and stops both.

Used by tests/http/test_deploy_nginx.py and by scripts/security_scan.py (the wapiti scan)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from tests.support import app_servers as servers
from tests.unit.test_production import example_settings

SITE = servers.ROOT / "deploy" / "nginx" / "oficina-virtual.conf"
#: The name the example site serves (its ``server_name``) and the certificate is made for.
HOST = "oficinavirtual.example"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


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
                key: Path, keep_port: bool = False) -> str:
    """The example site with these ports, certificate and log folder. Each change must find
    its line: if the example changes shape, this fails instead of running something else.

    ``keep_port``: the app is told the port as well as the host the client asked for. On 443 a
    browser names no port, so ``$host`` is all it sent; on a free port it sends the port, in
    ``Host`` and in the ``Referer`` of its forms, and the app's CSRF check (the referrer must
    be the host) needs both the same, as they are in production."""
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
    if keep_port:
        changes.append(("proxy_set_header Host $host;",
                        "proxy_set_header Host $host:$server_port;", 1))
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


def tls_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def nginx_in_front_of(folder: Path, app_port: int, *,
                      keep_port: bool = False) -> Iterator[tuple[int, int, Path]]:
    """nginx with the example site sending to ``app_port``; yields (https, http, cert)."""
    cert, key = certificate(folder)
    http_port, https_port = servers.free_port(), servers.free_port()
    (folder / "site.conf").write_text(render_site(
        folder, app_port=app_port, http_port=http_port, https_port=https_port, cert=cert,
        key=key, keep_port=keep_port))
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


def production_environment(instance: Path) -> dict[str, str]:
    """deploy/oficina-virtual.env as an operator fills it in for one machine without Redis:
    a secret key, a SQLite file and the upload folder in ``instance``, one app process."""
    env = servers.clean_environment(**example_settings())
    env.update(OV_SECRET_KEY="s" * 64, OV_INSTANCE_PATH=str(instance), OV_REDIS_URL="",
               OV_DATABASE_URL=f"sqlite:///{instance / 'ov.sqlite3'}",
               OV_UPLOAD_DIR=str(instance / "uploads"), OV_THREADS="4",
               # One process: without Redis each would count the address limit on its own.
               OV_WORKERS="1")
    return env


@dataclass
class Stack:
    https: str
    http: str
    cert: Path
    folder: Path
    database: Path
    env: dict[str, str]

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


@contextmanager
def running(folder: Path, *, instance_config: str = "",
            prepare: Callable[[dict[str, str]], None] | None = None,
            keep_port: bool = False) -> Iterator[Stack]:
    """The whole stack in ``folder``: the instance migrated, then ``prepare(env)`` (data to
    load before the app starts), then gunicorn and nginx in front (``keep_port``: see
    ``render_site``); stopped on leaving."""
    os.chmod(folder, 0o755)
    instance = folder / "instance"
    instance.mkdir()
    env = production_environment(instance)
    if instance_config:
        (instance / "config.py").write_text(instance_config)
    servers.migrate(env)  # first the schema, then the app processes
    if prepare is not None:
        prepare(env)
    app_port = servers.free_port()
    with servers.gunicorn(env, folder / "gunicorn.log", port=app_port), \
            nginx_in_front_of(folder, app_port, keep_port=keep_port) as (https_port, http_port,
                                                                         cert):
        yield Stack(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}",
                    cert, folder, instance / "ov.sqlite3", env)
