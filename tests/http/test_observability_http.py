"""Request ids, incident numbers, log lines and metrics as a client and an operator see them,
through the test client and through a real gunicorn with several workers."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from flask import Blueprint
from prometheus_client.parser import text_string_to_metric_families

from ov import create_app, observability
from ov.extensions import db
from ov.observability import REDACTED
from ov.services import auth as auth_service
from tests.conftest import TEST_DATABASE_URL, reset_schema, settings_for
from tests.support.factories import make_customer
from tests.support.journeys import hidden
from tests.support.rows import outbox

METRICS_TOKEN = "prueba-metricas-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]

broken = Blueprint("broken", __name__)


@broken.get("/_prueba/falla")
def fails():
    raise RuntimeError("detalle interno que el cliente no debe ver")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """Behind one trusted proxy, with /metrics open to the token, and a view that fails."""
    application = create_app({
        **settings_for(tmp_path_factory.mktemp("proxied")),
        "OV_TRUSTED_PROXIES": 1, "OV_METRICS_TOKEN": METRICS_TOKEN,
    })
    if not TEST_DATABASE_URL:  # sessions live in the database (PostgreSQL: already migrated)
        reset_schema(application)
    application.register_blueprint(broken)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def json_logs(app):
    observability.configure_logging("json")
    yield
    observability.configure_logging(app.config["OV_LOG_FORMAT"])


def json_lines(written: str) -> list[dict]:
    return [json.loads(line) for line in written.splitlines() if line.startswith("{")]


def text(response) -> str:
    return response.get_data(as_text=True)


# --- X-Request-ID --------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/", "/entrar", "/static/css/ov.css", "/no-existe", "/mi-oficina", "/salir", "/healthz",
])
def test_every_response_carries_a_request_id(client, path):
    response = client.get(path)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"]), response.status_code


def test_the_ids_of_pages_errors_redirects_and_files_are_all_different(client):
    answers = [client.get(path) for path in
               ("/entrar", "/entrar", "/no-existe", "/mi-oficina", "/static/css/ov.css")]
    assert [a.status_code for a in answers] == [200, 200, 404, 302, 200]
    assert len({a.headers["X-Request-ID"] for a in answers}) == len(answers)


def test_without_trusted_proxies_a_forged_id_is_ignored(client):
    response = client.get("/entrar", headers={"X-Request-ID": "forjado-por-el-cliente"})
    assert response.headers["X-Request-ID"] != "forjado-por-el-cliente"


def test_behind_a_trusted_proxy_its_id_is_kept(proxied):
    response = proxied.test_client().get("/entrar", headers={"X-Request-ID": "nginx-4f2a9c1b"})
    assert response.headers["X-Request-ID"] == "nginx-4f2a9c1b"


@pytest.mark.parametrize("value", ["corto", "x" * 65, "dos palabras aqui", "<b>negritas</b>",
                                   "ñandú-123456", "a,b,c,d,e,f"])
def test_behind_a_proxy_an_unsafe_id_is_replaced(proxied, value):
    response = proxied.test_client().get("/entrar", headers={"X-Request-ID": value})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


# --- the incident number on error pages ----------------------------------------------------

def incident(response) -> str:
    found = re.search(r"Número de incidente: <strong>([^<]+)</strong>", text(response))
    assert found, text(response)
    return found.group(1)


def test_the_404_page_shows_its_request_id_as_the_incident_number(client, htmx_headers):
    page = client.get("/no-existe")
    assert page.status_code == 404 and incident(page) == page.headers["X-Request-ID"]
    fragment = client.get("/no-existe", headers=htmx_headers)
    assert incident(fragment) == fragment.headers["X-Request-ID"]
    assert "Atención al cliente" in text(page)


def test_the_500_page_shows_the_incident_number_and_no_detail(proxied):
    response = proxied.test_client().get("/_prueba/falla")
    assert response.status_code == 500
    assert incident(response) == response.headers["X-Request-ID"]
    assert "detalle interno" not in text(response)


def test_the_plain_fallback_page_shows_the_incident_number(proxied, monkeypatch):
    from ov import errors

    def broken_render(*args, **kwargs):
        raise RuntimeError("the template cannot be rendered")

    monkeypatch.setattr(errors, "render", broken_render)
    response = proxied.test_client().get("/_prueba/falla")
    assert response.status_code == 500 and "<title>Error del servidor</title>" in text(response)
    assert incident(response) == response.headers["X-Request-ID"]


# --- log lines -----------------------------------------------------------------------------

def test_one_json_line_per_request_with_the_route_rule_and_no_query(client, json_logs,
                                                                     capsys):
    capsys.readouterr()
    response = client.get("/entrar?usuario=MiguelGranados")
    lines = json_lines(capsys.readouterr().err)
    (line,) = [item for item in lines if item["logger"] == "ov_requests"]
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert (line["method"], line["route"], line["status"]) == ("GET", "/entrar", 200)
    assert isinstance(line["duration_ms"], float) and line["level"] == "INFO"
    assert "MiguelGranados" not in json.dumps(lines)


def test_a_query_that_is_not_utf8_still_gets_its_line(client, json_logs, capsys):
    capsys.readouterr()
    response = client.get("/entrar", environ_overrides={"QUERY_STRING": "x=\xff"})
    assert response.status_code == 400
    (line,) = [item for item in json_lines(capsys.readouterr().err)
               if item["logger"] == "ov_requests"]
    assert (line["route"], line["status"]) == ("/entrar", 400)


@pytest.mark.usefixtures("clean_db")
def test_a_real_reset_link_never_reaches_the_log_unredacted(app, client, json_logs, capsys,
                                                            monkeypatch):
    with app.app_context():
        make_customer()
        db.session.commit()
    csrf = hidden(text(client.get("/recuperar")), "csrf_token")
    client.post("/recuperar", data={"csrf_token": csrf, "correo": "cliente@ejemplo.mx"})
    body = [m for m in outbox(app) if m.subject.startswith("Recupera")][-1].body_text
    link = re.search(r"https?://[^/\s]+(/recuperar/enlace/(\S+))", body)
    path, token = link.group(1), link.group(2)
    capsys.readouterr()
    assert client.get(path).status_code == 303

    def fault(value):  # a fault while the token is in hand: the error is logged with the URL
        raise RuntimeError(f"could not read {value}")

    monkeypatch.setattr(auth_service, "user_for_reset", fault)
    failed = client.get(path + "?origen=correo")
    assert failed.status_code == 500
    written = capsys.readouterr().err
    assert token not in written and REDACTED in written
    routes = [(item["route"], item["status"]) for item in json_lines(written)
              if item["logger"] == "ov_requests"]
    assert routes == [("/recuperar/enlace/<token>", 303), ("/recuperar/enlace/<token>", 500)]
    (error,) = [item for item in json_lines(written) if item["level"] == "ERROR"]
    assert error["request_id"] == failed.headers["X-Request-ID"]
    assert "RuntimeError" in error["exc_info"] and "unhandled error on GET" in error["message"]


# --- /metrics ------------------------------------------------------------------------------

def scrape(tclient, token: str = METRICS_TOKEN):
    return tclient.get("/metrics", headers={"Authorization": f"Bearer {token}"})


def sample(page: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(page):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


def test_metrics_are_not_public_by_default(client):
    assert client.get("/metrics").status_code == 404
    assert scrape(client).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer equivocado-0123456789abcd"},
                                     {"Authorization": METRICS_TOKEN},
                                     {"Authorization": f"Basic {METRICS_TOKEN}"}])
def test_metrics_without_the_right_token_are_an_ordinary_404(proxied, headers):
    tclient = proxied.test_client()
    response = tclient.get("/metrics", headers=headers)
    unknown = tclient.get("/no-existe")
    assert response.status_code == unknown.status_code == 404
    assert "Página no encontrada" in text(response) and "ov_http" not in text(response)
    assert tclient.post("/metrics", headers=headers).status_code == 404


def test_metrics_count_requests_by_route_rule_method_and_status(proxied):
    tclient = proxied.test_client()
    before = scrape(tclient)
    assert before.status_code == 200 and before.mimetype == "text/plain"
    assert before.headers["Cache-Control"] == "no-store"
    labels = {"route": "/entrar", "method": "GET", "status": "200"}
    unknown = {"route": "desconocida", "method": "GET", "status": "404"}
    tclient.get("/entrar")
    tclient.get("/entrar")
    tclient.get("/no-existe-987654")
    page = text(scrape(tclient))
    assert sample(page, "ov_http_requests_total", **labels) == sample(
        text(before), "ov_http_requests_total", **labels) + 2
    assert sample(page, "ov_http_requests_total", **unknown) == sample(
        text(before), "ov_http_requests_total", **unknown) + 1
    assert sample(page, "ov_http_request_duration_seconds_count",
                  route="/entrar", method="GET") >= 2
    assert "no-existe-987654" not in page


def test_an_odd_method_is_labelled_otro(proxied):
    tclient = proxied.test_client()
    tclient.open("/entrar", method="BREW")
    page = text(scrape(tclient))
    assert sample(page, "ov_http_requests_total", method="otro") >= 1
    assert 'method="BREW"' not in page


# --- a real gunicorn with two workers --------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn_site(tmp_path):
    """A migrated SQLite database with one customer, and a real reset token for them."""
    instance = tmp_path / "instance"
    settings = {**settings_for(instance), "OV_REDIS_URL": "", "RATELIMIT_STORAGE_URI": "memory://",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'gunicorn.sqlite3'}"}
    application = create_app(settings)
    reset_schema(application)
    with application.app_context():
        user, _account = make_customer()
        db.session.commit()
        token = auth_service.reset_token(user)
        db.engine.dispose()
    return {"instance": instance, "settings": settings, "token": token}


def start_gunicorn(site, tmp_path, port: int, app_log) -> subprocess.Popen:
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    config = tmp_path / "gunicorn_test.py"
    config.write_text(
        "from ov.observability import clear_multiprocess_dir, worker_exit\n\n"
        "child_exit = worker_exit\n\n\n"
        "def on_starting(server):\n    clear_multiprocess_dir()\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("OV_")}
    env.update({
        "OV_INSTANCE_PATH": str(site["instance"]), "OV_ENV": "development",
        "OV_SECRET_KEY": site["settings"]["SECRET_KEY"],
        "OV_DATABASE_URL": site["settings"]["SQLALCHEMY_DATABASE_URI"],
        "OV_MAIL_BACKEND": "locmem", "OV_METRICS_TOKEN": METRICS_TOKEN, "OV_LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    })
    command = [
        sys.executable, "-m", "gunicorn", "-c", str(config), "--bind", f"127.0.0.1:{port}",
        "-w", "2", "-k", "gthread", "--threads", "2",
        # Each worker is replaced after five requests: the counts must outlive the processes.
        "--max-requests", "5",
        "--logger-class", "ov.observability.AccessLogger",
        "--access-logfile", str(tmp_path / "access.log"),
        "--access-logformat", '%(h)s "%(r)s" %(s)s "%(f)s" pid=%(p)s id=%({x-request-id}o)s',
        "--error-logfile", str(tmp_path / "error.log"),
        "ov:create_app()",
    ]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=app_log)


def wait_until_serving(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn stopped before serving"
        try:
            if requests.get(base + "/healthz", timeout=30).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.2)  # polling for the port to open, not a proof of anything
    raise AssertionError("gunicorn did not answer /healthz")


def exercise(base: str, server: subprocess.Popen, token: str):
    """Pages, a token link (with a token page as Referer) and three scrapes, then a stop."""
    try:
        wait_until_serving(base, server)
        pages = [requests.get(base + "/entrar", timeout=30) for _ in range(12)]
        link = requests.get(f"{base}/recuperar/enlace/{token}?origen=correo", timeout=30,
                            allow_redirects=False,
                            headers={"Referer": f"{base}/confirmar-correo/{token}"})
        refused = [requests.get(base + "/metrics", timeout=30, headers=headers).status_code
                   for headers in ({}, {"Authorization": "Bearer equivocado-0123456789abcdef"})]
        scraped = requests.get(base + "/metrics", timeout=30,
                               headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        unparsed = send_raw(base, f"GET /recuperar/enlace/{token}?origen=correo\r\n\r\n")
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert unparsed.startswith(b"HTTP/1.1 400")  # gunicorn's own refusal, logged as a warning
    return pages, link, refused, scraped


def send_raw(base: str, text: str) -> bytes:
    """A request line gunicorn cannot parse: its warning quotes the line."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(text.encode())
        return conn.recv(200)


def test_under_gunicorn_tokens_stay_out_of_every_log_and_metrics_add_up(gunicorn_site,
                                                                         tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = gunicorn_site["token"]
    with (tmp_path / "app.log").open("w") as app_log:
        server = start_gunicorn(gunicorn_site, tmp_path, port, app_log)
        pages, link, refused, scraped = exercise(base, server, token)
    assert [page.status_code for page in pages] == [200] * 12
    assert link.status_code == 303 and link.headers["Location"].endswith("/nueva-contrasena")
    assert refused == [404, 404] and scraped.status_code == 200
    # Counted by every worker that served them, the ones replaced since included.
    assert sample(scraped.text, "ov_http_requests_total",
                  route="/entrar", method="GET", status="200") == 12
    assert sample(scraped.text, "ov_http_requests_total",
                  route="/recuperar/enlace/<token>", method="GET", status="303") == 1

    access = (tmp_path / "access.log").read_text()
    app_log = (tmp_path / "app.log").read_text()
    errors = (tmp_path / "error.log").read_text()
    for written in (access, app_log, errors):
        assert token not in written and "origen=correo" not in written
    assert f'"GET /recuperar/enlace/{REDACTED}?{REDACTED} HTTP/1.1" 303' in access
    assert f'"{base}/confirmar-correo/{REDACTED}"' in access
    assert f"request line: 'GET /recuperar/enlace/{REDACTED}?{REDACTED}'" in errors
    pids = set(re.findall(r"pid=<(\d+)>", access))
    assert len(pids) >= 3, "with five requests each, the first two workers were replaced"
    ids = re.findall(r" id=([0-9a-f]{32})$", access, flags=re.MULTILINE)
    assert {page.headers["X-Request-ID"] for page in pages} <= set(ids)
    lines = [item for item in json_lines(app_log) if item["logger"] == "ov_requests"]
    assert ("/recuperar/enlace/<token>", 303, link.headers["X-Request-ID"]) in [
        (item["route"], item["status"], item["request_id"]) for item in lines]
    assert "Traceback" not in errors and "Traceback" not in app_log


def test_clearing_the_metrics_folder_removes_only_metrics_files(tmp_path, monkeypatch):
    (tmp_path / "counter_123.db").write_bytes(b"\0" * 8)
    (tmp_path / "leeme.txt").write_text("se queda")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    observability.clear_multiprocess_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leeme.txt"]
