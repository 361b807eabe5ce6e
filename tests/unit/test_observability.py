"""Request ids, redaction of secret URLs, log lines and their settings, without HTTP."""

from __future__ import annotations

import json
import logging

import pytest
from werkzeug.routing import Map, Rule

from ov import create_app, observability
from ov.config import ConfigError
from ov.observability import REDACTED, redact_atoms, redact_path, redact_url, request_id
from tests.conftest import production_settings, settings_for

TOKEN = "eyJ1IjoxLCJwIjoiYWJjIn0.Z3x9Qw.s1gn4tur3-_w1th-d4sh3s"


# --- request ids ---------------------------------------------------------------------------

def test_outside_a_request_the_id_is_a_dash(app):
    assert request_id() == "-"
    with app.app_context():
        assert request_id() == "-"


def test_an_id_is_made_once_per_request_and_differs_between_requests(app):
    seen = []
    for _ in range(3):
        with app.test_request_context("/entrar"):
            first = request_id()
            assert request_id() == first
            seen.append(first)
    assert len(set(seen)) == 3
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in seen)


@pytest.mark.parametrize("value", [
    "corto", "x" * 65, "con espacio 123", "ñandú-12345", "<script>1</script>", "a/b/c/d/e/f",
    "abc;def=ghi", "",
])
def test_unsafe_incoming_ids_are_replaced(value):
    assert not observability.SAFE_REQUEST_ID.fullmatch(value)


def test_middleware_before_flask_gets_the_same_id_rules():
    forged = {"HTTP_X_REQUEST_ID": "nginx-4f2a9c1b"}
    assert observability.environ_request_id(dict(forged), trusted=True) == "nginx-4f2a9c1b"
    untrusted = dict(forged)
    made = observability.environ_request_id(untrusted, trusted=False)
    assert made != "nginx-4f2a9c1b" and len(made) == 32
    assert observability.environ_request_id(untrusted, trusted=True) == made  # kept once made
    unsafe = {"HTTP_X_REQUEST_ID": "dos palabras"}
    assert observability.environ_request_id(unsafe, trusted=True) != "dos palabras"


@pytest.mark.parametrize("value", ["abcdefgh", "x" * 64, "f3b2c1d0-aa.bb_cc", "0123456789"])
def test_safe_incoming_ids_look_like_this(value):
    assert observability.SAFE_REQUEST_ID.fullmatch(value)


# --- which URLs carry a secret, read from the rules ----------------------------------------

def secret_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if observability.secret_names(rule)}


def test_the_token_routes_are_found_in_the_url_map(app):
    found = secret_endpoints(app)
    assert {"auth.reset_link", "account.confirm_email"} <= found
    assert any(endpoint.startswith("account.") and "undo" in endpoint for endpoint in found)
    assert "static" not in found  # a file name is not a secret
    assert not [e for e in found if e.startswith("office.")]  # only numeric ids there


def test_any_free_text_variable_of_a_new_rule_counts_as_secret():
    rules = Map([Rule("/a/<codigo>", endpoint="a"), Rule("/b/<path:resto>", endpoint="b"),
                 Rule("/c/<int:numero>", endpoint="c"),
                 Rule("/d/<any(uno,dos):cual>", endpoint="d")]).iter_rules()
    names = {rule.endpoint: observability.secret_names(rule) for rule in rules}
    assert names == {"a": {"codigo"}, "b": {"resto"}, "c": set(), "d": set()}


@pytest.mark.parametrize(("path", "shown"), [
    (f"/recuperar/enlace/{TOKEN}", f"/recuperar/enlace/{REDACTED}"),
    (f"/confirmar-correo/{TOKEN}", f"/confirmar-correo/{REDACTED}"),
    (f"/deshacer-cambio/{TOKEN}", f"/deshacer-cambio/{REDACTED}"),
    (f"/recuperar/enlace/{TOKEN}?utm=correo", f"/recuperar/enlace/{REDACTED}?{REDACTED}"),
    (f"/recuperar/enlace/{TOKEN}/", f"/recuperar/enlace/{REDACTED}"),  # a broken link
    (f"/recuperar/enlace/{TOKEN[:20]}%0A", f"/recuperar/enlace/{REDACTED}"),
    ("/entrar?usuario=MiguelGranados", f"/entrar?{REDACTED}"),
    ("/entrar", "/entrar"),
    ("/static/css/ov.css?v=abc123", f"/static/css/ov.css?{REDACTED}"),
    ("/mi-oficina/contratos/12/nombre", "/mi-oficina/contratos/12/nombre"),
    ("/no/existe\r\nX: y", "/no/existe%0D%0AX:%20y"),  # no line can be forged
    ("/confirmar-correo/c", f"/confirmar-correo/{REDACTED}"),  # the fixed part stays whole
])
def test_redact_path_with_the_apps_rules(app, path, shown):
    with app.app_context():
        assert redact_path(path) == shown
    assert TOKEN not in redact_path(path)  # the last app's rules, outside any context


def test_a_post_only_token_rule_is_redacted_too():
    redactor = observability.Redactor(Map([Rule("/solo-post/<clave>", endpoint="x",
                                                 methods=["POST"])]))
    assert redactor.path("/solo-post/abcdef") == f"/solo-post/{REDACTED}"


def test_with_no_app_known_long_token_like_segments_are_redacted(monkeypatch):
    monkeypatch.setattr(observability, "_redactor", None)
    assert redact_path(f"/cualquier/{TOKEN}?a=1") == f"/cualquier/{REDACTED}?{REDACTED}"
    assert redact_path("/static/css/ov.css") == "/static/css/ov.css"


def test_redact_url_keeps_the_site_and_hides_the_token(app):
    with app.app_context():
        assert (redact_url(f"https://oficina.example/confirmar-correo/{TOKEN}?a=b")
                == f"https://oficina.example/confirmar-correo/{REDACTED}?{REDACTED}")
        assert redact_url("-") == "-"


def test_gunicorn_atoms_lose_tokens_queries_and_credentials(app):
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": f"/recuperar/enlace/{TOKEN}?x=1",
        "PATH_INFO": f"/recuperar/enlace/{TOKEN}", "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_REFERER": f"http://h/confirmar-correo/{TOKEN}",
        "HTTP_AUTHORIZATION": "Bearer s3cr3t-s3cr3t-s3cr3t",
    }
    atoms = {"r": "raw", "U": "raw", "q": "x=1", "f": "raw", "h": "127.0.0.1",
             "{referer}i": environ["HTTP_REFERER"], "{authorization}i": "Bearer s3cr3t",
             "{cookie}i": "ov=abc", "{location}o": f"/deshacer-cambio/{TOKEN}",
             "{x-request-id}o": "abcdef0123456789",
             "{raw_uri}e": environ["RAW_URI"], "{query_string}e": "x=1",
             "{http_authorization}e": "Bearer s3cr3t", "{werkzeug.request}e": object()}
    with app.app_context():
        cleaned = redact_atoms(atoms, environ)
    assert cleaned["r"] == f"GET /recuperar/enlace/{REDACTED}?{REDACTED} HTTP/1.1"
    assert cleaned["U"] == f"/recuperar/enlace/{REDACTED}"
    assert cleaned["q"] == REDACTED
    assert cleaned["f"] == f"http://h/confirmar-correo/{REDACTED}"
    assert cleaned["{authorization}i"] == cleaned["{cookie}i"] == REDACTED
    assert cleaned["{http_authorization}e"] == REDACTED
    assert cleaned["{location}o"] == f"/deshacer-cambio/{REDACTED}"
    assert cleaned["{x-request-id}o"] == "abcdef0123456789" and cleaned["h"] == "127.0.0.1"
    assert "{werkzeug.request}e" not in cleaned
    assert TOKEN not in repr(cleaned) and "s3cr3t" not in repr(cleaned)


@pytest.mark.parametrize("line, shown", [
    (f"Error handling request GET /recuperar/enlace/{TOKEN}?origen=correo",
     f"Error handling request GET /recuperar/enlace/{REDACTED}?{REDACTED}"),
    (f"Invalid request from ip=10.0.0.1: Invalid HTTP request line: "
     f"'GET /confirmar-correo/{TOKEN}'",
     f"Invalid request from ip=10.0.0.1: Invalid HTTP request line: "
     f"'GET /confirmar-correo/{REDACTED}'"),
    (f"Error handling request GET https://oficina.example/deshacer-cambio/{TOKEN}",
     f"Error handling request GET https://oficina.example/deshacer-cambio/{REDACTED}"),
    ("Worker exiting (pid: 12)", "Worker exiting (pid: 12)"),
    ("Error handling request GET /static/css/ov.css",
     "Error handling request GET /static/css/ov.css"),
])
def test_free_text_loses_the_tokens_and_queries_of_its_urls(app, line, shown):
    with app.app_context():
        assert observability.redact_text(line) == shown


def test_gunicorn_warnings_and_errors_are_redacted_too(app, tmp_path):
    from gunicorn.config import Config

    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    log = observability.AccessLogger(config)
    log.warning("Invalid request from ip=1.2.3.4: Invalid HTTP request line: "
                f"'GET /recuperar/enlace/{TOKEN}?origen=correo'")
    try:
        raise RuntimeError("fallo fuera de la app")
    except RuntimeError:
        log.exception("Error handling request %s %s", "GET", f"/deshacer-cambio/{TOKEN}?a=1")
    log.error("Error handling request %s", f"/confirmar-correo/{TOKEN}")
    log.critical("WORKER TIMEOUT (pid:%s)", 12)
    log.warning("sin formato", f"/recuperar/enlace/{TOKEN}")  # a mismatched format
    for handler in log.error_log.handlers:
        handler.close()
    written = (tmp_path / "error.log").read_text()
    assert TOKEN not in written and "origen=correo" not in written
    assert f"'GET /recuperar/enlace/{REDACTED}?{REDACTED}'" in written
    assert f"GET /deshacer-cambio/{REDACTED}?{REDACTED}" in written
    assert "RuntimeError: fallo fuera de la app" in written  # the traceback stays
    assert f"request /confirmar-correo/{REDACTED}" in written
    assert "WORKER TIMEOUT (pid:12)" in written
    assert f"sin formato /recuperar/enlace/{REDACTED}" in written


# --- log lines -----------------------------------------------------------------------------

def records_as_written(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_json_lines_carry_time_level_logger_message_and_request_id(app, capsys):
    observability.configure_logging("json")
    try:
        capsys.readouterr()
        with app.test_request_context("/entrar"):
            logging.getLogger("ov.services.mail").warning("mail %s not sent", 7)
            expected = request_id()
        logging.getLogger("ov.cli").warning("outside any request")
        first, second = (json.loads(line) for line in records_as_written(capsys))
    finally:
        observability.configure_logging(app.config["OV_LOG_FORMAT"])
    assert first["message"] == "mail 7 not sent" and first["request_id"] == expected
    assert first["level"] == "WARNING" and first["logger"] == "ov.services.mail"
    assert first["time"].endswith("Z") and first["time"][:2] == "20"
    assert second["request_id"] == "-"


def test_text_lines_carry_the_request_id_too(app, capsys):
    observability.configure_logging("text")
    capsys.readouterr()
    with app.test_request_context("/entrar"):
        logging.getLogger("ov").error("something")
        expected = request_id()
    (line,) = records_as_written(capsys)
    assert f"ERROR ov [{expected}] something" in line


def test_email_addresses_and_the_requests_token_are_taken_out_of_messages(app, capsys):
    observability.configure_logging("text")
    capsys.readouterr()
    with app.test_request_context(f"/recuperar/enlace/{TOKEN}?usuario=MiguelGranados"):
        logging.getLogger("ov.services.mail").warning(
            "refused %s on %s", "ana.perez@ejemplo.mx", f"/recuperar/enlace/{TOKEN}")
        try:
            raise RuntimeError(f"bad token {TOKEN} for MiguelGranados")
        except RuntimeError:
            logging.getLogger("ov").exception("failed")
    written = capsys.readouterr().err
    assert "[correo]" in written and REDACTED in written and "RuntimeError" in written
    for secret in (TOKEN, "ana.perez", "MiguelGranados"):
        assert secret not in written


def test_the_development_servers_request_lines_are_redacted(app, capsys, monkeypatch):
    observability.configure_logging("text")
    capsys.readouterr()
    server_log = logging.getLogger("werkzeug")
    monkeypatch.setattr(server_log, "level", logging.INFO)  # as the server sets it when it logs
    server_log.info('"%s" %s %s', f"GET /confirmar-correo/{TOKEN} HTTP/1.1",
                                       200, "-")
    written = capsys.readouterr().err
    assert f"GET /confirmar-correo/{REDACTED} HTTP/1.1" in written and TOKEN not in written


# --- settings ------------------------------------------------------------------------------

def test_log_format_is_json_in_production_and_text_otherwise(tmp_path):
    production = create_app(production_settings(tmp_path / "prod"))
    development = create_app(settings_for(tmp_path / "dev"))
    chosen = create_app({**settings_for(tmp_path / "dev2"), "OV_LOG_FORMAT": "json"})
    observability.configure_logging("text")
    assert production.config["OV_LOG_FORMAT"] == "json"
    assert development.config["OV_LOG_FORMAT"] == "text"
    assert chosen.config["OV_LOG_FORMAT"] == "json"


@pytest.mark.parametrize(("key", "value", "message"), [
    ("OV_LOG_FORMAT", "xml", "OV_LOG_FORMAT='xml': usa json"),
    ("OV_METRICS_TOKEN", "corto", "al menos 16 caracteres"),
    ("OV_METRICS_TOKEN", "con espacios en medio 123", "sin espacios"),
])
def test_bad_observability_settings_are_refused_in_spanish(tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=message):
        create_app({**settings_for(tmp_path), key: value})
