"""Bad input and faults: the right status and a Spanish page, never a traceback."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint, abort, render_template_string, request
from sqlalchemy.exc import OperationalError

from ov import create_app
from ov.extensions import csrf, limiter
from tests.conftest import TEST_DATABASE_URL, reset_schema, settings_for

trouble = Blueprint("trouble", __name__)


@trouble.route("/_prueba/formulario", methods=["GET", "POST"])
def form():
    if request.method == "POST":
        return "recibido: " + request.form.get("usuario", "")
    return render_template_string(
        '<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">'
        '<input name="usuario"></form>'
    )


@trouble.get("/_prueba/fallo")
def boom():
    raise RuntimeError("secret detail that must not reach the customer")


@trouble.get("/_prueba/base-de-datos")
def database_down():
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


@trouble.get("/_prueba/<int:code>")
def status(code: int):
    abort(code)


@trouble.post("/_prueba/limitada")  # the portal limits form posts only
@csrf.exempt
@limiter.limit("2/minute")
def limited():
    return "ok"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    application = create_app(settings_for(tmp_path_factory.mktemp("faulty")))
    if not TEST_DATABASE_URL:  # sessions live in the database (PostgreSQL: already migrated)
        reset_schema(application)
    application.register_blueprint(trouble)
    return application


@pytest.fixture
def tclient(faulty):
    return faulty.test_client()


def spanish_page(response, status: int, title: str) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert "Traceback" not in html and "secret detail" not in html
    assert re.search(rf"<h1[^>]*>{title}</h1>", html), html[:500]
    return html


@pytest.mark.parametrize(
    ("code", "title"),
    [
        (400, "Solicitud incorrecta"),
        (403, "Acceso denegado"),
        (404, "Página no encontrada"),
        (422, "Datos no válidos"),
        (503, "Servicio no disponible"),
    ],
)
def test_error_pages_in_spanish(tclient, code, title):
    html = spanish_page(tclient.get(f"/_prueba/{code}"), code, title)
    assert html.startswith("<!doctype html>")


def test_unknown_url(client):
    html = spanish_page(client.get("/no/existe"), 404, "Página no encontrada")
    assert 'href="/"' in html


def test_wrong_method_says_which_are_allowed(client):
    for method in (client.post, client.delete):
        response = method("/aviso-legal")
        spanish_page(response, 405, "Acción no permitida")
        assert "GET" in response.headers["Allow"]


def test_unexpected_fault_is_a_500_page_without_details(tclient):
    spanish_page(tclient.get("/_prueba/fallo"), 500, "Error del servidor")


def test_database_outage_is_a_503_with_retry_after(tclient):
    response = tclient.get("/_prueba/base-de-datos")
    spanish_page(response, 503, "Servicio no disponible")
    assert response.headers["Retry-After"].isdigit()


def test_rate_limit_is_a_429_page(tclient):
    codes = [tclient.post("/_prueba/limitada").status_code for _ in range(3)]
    assert codes[:2] == [200, 200]
    response = tclient.post("/_prueba/limitada")
    spanish_page(response, 429, "Demasiados intentos")
    assert "Retry-After" in response.headers


def test_errors_as_fragments_for_htmx(tclient, htmx_headers):
    response = tclient.get("/_prueba/404", headers=htmx_headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert html.startswith("<title>Página no encontrada · Oficina Virtual</title>")
    assert "<html" not in html


def test_oversized_body_is_refused(tclient, faulty):
    limit = faulty.config["MAX_CONTENT_LENGTH"]
    response = tclient.post("/_prueba/formulario", data={"usuario": "x" * (limit + 1)})
    spanish_page(response, 413, "Envío demasiado grande")


def test_malformed_multipart_is_a_400(tclient):
    response = tclient.post(
        "/_prueba/formulario",
        data=b"--roto\r\nContent-Disposition: form-data; name=\"nombre\"\r\n\r\nsin final",
        content_type="multipart/form-data; boundary=roto",
    )
    spanish_page(response, 400, "Solicitud incorrecta")


def fresh_token(tclient) -> str:
    page = tclient.get("/_prueba/formulario").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_invalid_utf8_in_a_form_is_replaced_not_a_crash(tclient):
    response = tclient.post(
        "/_prueba/formulario",
        data=f"usuario=Mar%ffa&csrf_token={fresh_token(tclient)}".encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("recibido: Mar")


def test_a_forged_or_broken_token_is_a_plain_bad_request(tclient):
    fresh_token(tclient)
    response = tclient.post(
        "/_prueba/formulario",
        data={"csrf_token": "inventado", "usuario": "Ana", "conservar": "usuario"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    html = spanish_page(response, 400, "Solicitud incorrecta")
    assert "Ana" not in html and "<form" not in html


def expire_tokens(monkeypatch):
    """Jump the signer's clock a day ahead: every form token issued so far has expired."""
    from itsdangerous.timed import TimestampSigner

    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) + 86400)


def test_expired_form_offers_to_send_the_answers_again(tclient, monkeypatch):
    token = fresh_token(tclient)
    expire_tokens(monkeypatch)
    response = tclient.post(
        "/_prueba/formulario?paso=2",
        data={
            "csrf_token": token,
            "usuario": "Ana López",
            "contrasena": "Secreta123",
            "csrf_extra": "x",
            "conservar": "usuario,contrasena,csrf_extra",
        },
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    html = spanish_page(response, 400, "La página caducó")
    assert response.headers["Cache-Control"] == "no-store"
    assert 'value="Ana López"' in html
    # Only answers the portal allows to be kept, whatever the (editable) form listed.
    assert "Secreta123" not in html and "csrf_extra" not in html
    assert 'action="/_prueba/formulario?paso=2"' in html
    new_token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    retry = tclient.post(
        "/_prueba/formulario", data={"csrf_token": new_token, "usuario": "Ana López"}
    )
    assert retry.get_data(as_text=True) == "recibido: Ana López"


def test_a_cross_site_post_gets_no_resubmit_form(tclient, monkeypatch):
    token = fresh_token(tclient)
    expire_tokens(monkeypatch)
    response = tclient.post(
        "/_prueba/formulario",
        data={"csrf_token": token, "usuario": "atacante", "conservar": "usuario"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    html = spanish_page(response, 400, "Solicitud incorrecta")
    assert "atacante" not in html and "<form" not in html


def test_an_error_in_a_fragment_replaces_the_main_content(tclient, htmx_headers):
    response = tclient.get("/_prueba/403", headers={**htmx_headers, "HX-Target": "div#campo-x"})
    assert response.headers["HX-Retarget"] == "#contenido"
    assert response.headers["HX-Reswap"] == "innerHTML"


@pytest.mark.parametrize("query", ["endpoint=x", "campo=1&_external=1", "_anchor=z&x=%C3%B1"])
def test_an_expired_form_keeps_its_address_whatever_its_query(tclient, monkeypatch, query):
    """The retry goes to the path the route builds, with the query string as it came: query
    keys are never taken as arguments for building the address (no crash, no other host)."""
    token = fresh_token(tclient)
    expire_tokens(monkeypatch)
    response = tclient.post(
        f"/_prueba/formulario?{query}", data={"csrf_token": token, "usuario": "Ana"},
        headers={"Sec-Fetch-Site": "same-origin", "Host": "otro.example"},
    )
    html = spanish_page(response, 400, "La página caducó")
    action = f"/_prueba/formulario?{query}".replace("&", "&amp;")
    assert f'action="{action}"' in html and "otro.example" not in html


@pytest.mark.parametrize("url", ["/entrar", "/ayuda/factura", "/mi-oficina/facturas",
                                 "/registro/paso-1"])
@pytest.mark.parametrize("partial", [False, True], ids=["page", "fragment"])
def test_raw_bytes_in_the_query_string_are_a_bad_request(client, htmx_headers, url, partial,
                                                        caplog):
    response = client.get(url, environ_overrides={"QUERY_STRING": "x=\xff"},
                          headers=htmx_headers if partial else {})
    assert response.status_code == 400
    assert "Solicitud incorrecta" in response.get_data(as_text=True)
    assert not [r for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]


@pytest.mark.parametrize("host", ["a..b", "x" * 260])
def test_a_malformed_host_gets_the_styled_page_and_logs_nothing(client, host, caplog):
    response = client.get("/entrar", headers={"Host": host})
    html = spanish_page(response, 400, "Solicitud incorrecta")
    assert "/static/css/ov.css" in html and 'href="/"' in html
    assert not [r for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]
