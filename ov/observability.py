"""Request ids, log lines without secrets, and request metrics for Prometheus.

Every request gets an id (``request_id()``), sent back as ``X-Request-ID`` and shown on the
error pages as the incident number a customer quotes to Atención al cliente. Every log record
carries it. Each request ends in one log line (method, route rule, status, duration) and in
two metrics, labelled by the route *rule* (``/recuperar/enlace/<token>``), never by the path.

Nothing secret reaches a log: URLs that carry a token (their free-text variables, read from
the url_map) and every query string (it carries what customers type) are redacted in the
app's lines, in the development server's and, through ``AccessLogger``, in gunicorn's access
log. docs/observability.md says what is logged and how to scrape the metrics.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    has_app_context,
    has_request_context,
    request,
)
from flask.logging import default_handler
from gunicorn import glogging
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, Rule

from ov.addresses import VIA_PROXY

REQUEST_ID_HEADER = "X-Request-ID"
#: What an incoming X-Request-ID (from a trusted proxy) may look like to be kept.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
#: ``request_id()`` outside a request (commands, background threads).
NO_REQUEST = "-"
REDACTED = "[redactado]"
#: The route label of a request that matched no rule (404, 405, a slash redirect).
UNKNOWN_ROUTE = "desconocida"
#: Methods kept as label values; any other word a client sends counts as "otro".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "otro"
#: The logger of the one line per request (outside ``ov``, so a handler on the app's logger
#: hears the app's own events only).
REQUEST_LOGGER = "ov_requests"
METRICS_PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_ID_KEY = "ov.request_id"
_STARTED_KEY = "ov.started"
_DONE_KEY = "ov.observed"

# --- request ids --------------------------------------------------------------------------


def environ_request_id(environ: dict, trusted: bool) -> str:
    """The id of the request ``environ`` describes, made on first use and kept in it: the
    proxy's ``X-Request-ID`` when ``trusted`` and it looks safe, else a fresh random one.
    WSGI middleware that answers before Flask (the bounded queue) sends it the same way."""
    found = environ.get(_ID_KEY)
    if found is None:
        incoming = environ.get("HTTP_X_REQUEST_ID", "") if trusted else ""
        found = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else secrets.token_hex(16)
        environ[_ID_KEY] = found  # 32 hex digits when made here, as uuid4().hex
    return found


def request_id() -> str:
    """This request's id (made on first use); ``"-"`` outside a request."""
    if not has_request_context():
        return NO_REQUEST
    return environ_request_id(request.environ, bool(request.environ.get(VIA_PROXY)))


# --- what a URL may not show --------------------------------------------------------------

#: Free-text URL variables that are not secret (the static file's name).
PUBLIC_VARIABLES = frozenset({("static", "filename")})
_VARIABLE = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>.*?)\))?:)?"
                       r"(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")
#: Converters whose values are free text, as a token is (not numbers, not a fixed ``any``).
_FREE_TEXT = frozenset({"default", "string", "path"})
# Characters left as they are when a path is written to a log (the rest percent-encoded, so
# no line break or quote a client sends can forge a log line).
_LOG_SAFE = "/[]@:;,=+$!*'()~-._"


@lru_cache(maxsize=1024)
def _secret_names(rule_text: str, endpoint: str) -> frozenset[str]:
    """The variables of a rule that may carry a secret: every free-text one, unless listed
    in ``PUBLIC_VARIABLES`` (``/confirmar-correo/<token>`` -> ``{"token"}``)."""
    names = set()
    for match in _VARIABLE.finditer(rule_text):
        converter = match.group("converter") or "default"
        if converter in _FREE_TEXT and (endpoint, match.group("name")) not in PUBLIC_VARIABLES:
            names.add(match.group("name"))
    return frozenset(names)


def secret_names(rule: Rule) -> frozenset[str]:
    return _secret_names(rule.rule, rule.endpoint)


class Redactor:
    """Knows, from one url_map, which paths carry a secret and where."""

    def __init__(self, url_map: Map) -> None:
        self.url_map = url_map
        self.size = -1
        self.prefixes: tuple[str, ...] = ()

    def _refresh(self) -> None:
        rules = list(self.url_map.iter_rules())
        if len(rules) == self.size:
            return
        prefixes = {rule.rule.split("<", 1)[0] for rule in rules if secret_names(rule)}
        self.prefixes = tuple(sorted(prefixes))
        self.size = len(rules)

    def path(self, path: str) -> str:
        """``path`` (with or without its query) as a log may show it."""
        self._refresh()
        raw, _, query = path.partition("?")
        decoded = unquote(raw)
        if any(decoded.startswith(prefix) for prefix in self.prefixes):
            decoded = self._redact_matched(decoded)
        shown = quote(decoded, safe=_LOG_SAFE)
        return f"{shown}?{REDACTED}" if query else shown

    def _redact_matched(self, decoded: str) -> str:
        adapter = self.url_map.bind("localhost")
        try:
            try:
                rule, values = adapter.match(decoded, method="GET", return_rule=True)
            except MethodNotAllowed as refused:  # a POST-only rule
                method = sorted(refused.valid_methods or ["POST"])[0]
                rule, values = adapter.match(decoded, method=method, return_rule=True)
        except HTTPException:  # a broken link under a token route (cut, or a slash added)
            prefix = max((p for p in self.prefixes if decoded.startswith(p)), key=len)
            return prefix + REDACTED if len(decoded) > len(prefix) else decoded
        prefix = rule.rule.split("<", 1)[0]  # the fixed part stays as it is
        hidden = [str(values[name]) for name in secret_names(rule) if name in values]
        return prefix + _replace_values(decoded[len(prefix):], hidden)


def _replace_values(text: str, values: list[str]) -> str:
    for value in sorted(values, key=len, reverse=True):
        if value:
            text = text.replace(value, REDACTED)
            encoded = quote(value, safe="")
            if encoded != value:
                text = text.replace(encoded, REDACTED)
    return text


_redactor: Redactor | None = None  # the last app's (gunicorn's and the dev server's lines)
# A path segment that looks like a token, for when no url_map is known.
_TOKENISH = re.compile(r"(?<=/)[A-Za-z0-9_.~-]{24,}")


def redact_path(path: str) -> str:
    """``/recuperar/enlace/eyJ1Ijo...`` -> ``/recuperar/enlace/[redactado]``; a query string
    becomes ``?[redactado]``. The current app's url_map tells which rules carry a secret;
    with no app at all, every long token-like segment is redacted."""
    redactor = _redactor
    if has_app_context():
        redactor = current_app.extensions.get("ov_redactor", redactor)
    if redactor is not None:
        return redactor.path(path)
    raw, _, query = path.partition("?")
    shown = quote(_TOKENISH.sub(REDACTED, unquote(raw)), safe=_LOG_SAFE)
    return f"{shown}?{REDACTED}" if query else shown


def redact_url(url: str) -> str:
    """An absolute or relative URL (a Referer, a Location) with its path redacted."""
    if not url or url == "-":
        return url
    parts = urlsplit(url)
    path = redact_path(parts.path + ("?" + parts.query if parts.query else ""))
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")) + path if parts.netloc else path


def redact_request_line(line: str) -> str:
    """``GET /confirmar-correo/abc HTTP/1.1`` with its target redacted."""
    pieces = line.split(" ")
    if len(pieces) == 3:
        pieces[1] = redact_path(pieces[1])
        return " ".join(pieces)
    return redact_path(line)


# --- log records --------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
EMAIL_SHOWN = "[correo]"


def _request_secrets() -> list[str]:
    """What the current request's URL holds that no log line may repeat."""
    found: list[str] = []
    rule = request.url_rule
    if rule is not None:
        values = request.view_args or {}
        found += [str(values[name]) for name in secret_names(rule) if name in values]
    else:
        shown = redact_path(request.path)
        if shown != quote(request.path, safe=_LOG_SAFE):  # a broken link under a token route
            found.append(request.path)
    if request.query_string:  # read raw: it may not even be UTF-8 (answered with a 400)
        query = request.query_string.decode("utf-8", "replace")
        found.append(query)
        found += [value for _, value in parse_qsl(query) if len(value) >= 4]
    return found


class RequestContextFilter(logging.Filter):
    """Gives every record its request id, and takes out of its text what must not be logged:
    the request's tokens and query, email addresses, and (for the development server's
    request lines) token URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        if record.name == REQUEST_LOGGER:  # made of the rule, the method and numbers only
            return True
        if record.name == "werkzeug" and isinstance(record.args, tuple) and record.args:
            first = record.args[0]
            if isinstance(first, str):
                record.args = (redact_request_line(first), *record.args[1:])
        hidden = _request_secrets() if has_request_context() else []
        message = record.getMessage()
        clean = _EMAIL.sub(EMAIL_SHOWN, _replace_values(message, hidden))
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            clean = _EMAIL.sub(EMAIL_SHOWN, _replace_values(record.exc_text, hidden))
            if clean != record.exc_text:  # the formatters then print the cleaned text
                record.exc_text, record.exc_info = clean, None
        return True


class _Stderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is when a record comes."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class UtcTime:
    """Times in UTC, ISO 8601 with milliseconds: ``2026-12-01T23:38:03.593Z``."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLines(UtcTime, JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}{request_id}", style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )


class TextLines(UtcTime, logging.Formatter):
    def __init__(self) -> None:
        super().__init__("{asctime} {levelname} {name} [{request_id}] {message}", style="{")


LOG_FORMATS = {"json": JsonLines, "text": TextLines}


def configure_logging(log_format: str) -> logging.Handler:
    """One handler on the root logger, in ``log_format``, with the request id and the
    redaction filter; the app's loggers and the request lines at INFO. Called again (another
    app in the same process), it replaces its own handler rather than adding one."""
    handler = _Stderr()
    handler.setFormatter(LOG_FORMATS[log_format]())
    handler.addFilter(RequestContextFilter())
    handler.ov_handler = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "ov_handler", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Migrations say what they run, as alembic.ini (which steps aside for this handler) does.
    for name in ("ov", REQUEST_LOGGER, "alembic", "flask_migrate"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    logging.getLogger("ov").removeHandler(default_handler)  # ours prints the app's lines
    return handler


# --- metrics ------------------------------------------------------------------------------

REQUESTS = Counter(
    "ov_http_requests", "Requests answered, by route rule, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "ov_http_request_duration_seconds",
    "Time from the first hook to the last, by route rule and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def route_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNKNOWN_ROUTE


def method_label() -> str:
    return request.method if request.method in METHODS else OTHER_METHOD


def metrics_page() -> bytes:
    """The metrics of this process or, in multiprocess mode, of every worker."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _authorized(expected: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


def metrics():
    """Prometheus' page, for whoever has the token; anyone else gets the 404 page."""
    token = current_app.config.get("OV_METRICS_TOKEN", "")
    if request.method not in {"GET", "HEAD"} or not token or not _authorized(token):
        abort(404)
    response = Response(metrics_page(), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def worker_exit(server, worker) -> None:
    """gunicorn's ``child_exit`` hook: a dead worker's live metrics files are let go."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(worker.pid)


def clear_multiprocess_dir() -> None:
    """Empty ``PROMETHEUS_MULTIPROC_DIR`` before the workers start (gunicorn's
    ``on_starting``): files of an earlier run would be added to this one's counts."""
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        for path in Path(folder).glob("*.db"):
            path.unlink()


# --- gunicorn's access log ----------------------------------------------------------------

#: Request and response headers an access log must never show, whatever its format asks.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie",
                            "x-csrftoken", "x-csrf-token"})
URL_HEADERS = frozenset({"referer", "location", "hx-current-url", "origin"})


def _clean_header(name: str, value):
    if name in SECRET_HEADERS:
        return REDACTED
    if name in URL_HEADERS and isinstance(value, str):
        return redact_url(value)
    return value


def redact_atoms(atoms: dict, environ: dict) -> dict:
    """gunicorn's access-log atoms with the URL parts, URL headers and secrets redacted."""
    target = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
    atoms["r"] = "{} {} {}".format(environ.get("REQUEST_METHOD", "-"), redact_path(target),
                                   environ.get("SERVER_PROTOCOL", "-"))
    atoms["U"] = redact_path(environ.get("PATH_INFO", ""))
    atoms["q"] = REDACTED if environ.get("QUERY_STRING") else ""
    atoms["f"] = redact_url(environ.get("HTTP_REFERER", "-"))
    for key in list(atoms):
        if not key.startswith("{"):
            continue
        name, kind = key[1:-2], key[-1]
        if kind in "io":
            atoms[key] = _clean_header(name, atoms[key])
        elif kind == "e":
            value = atoms[key]
            if not isinstance(value, str):  # objects (the request, streams) print URLs
                del atoms[key]
            elif name in {"raw_uri", "request_uri", "path_info"}:
                atoms[key] = redact_path(value)
            elif name == "query_string":
                atoms[key] = REDACTED if value else ""
            elif name.startswith("http_"):
                atoms[key] = _clean_header(name[5:].replace("_", "-"), value)
    return atoms


# A URL or an absolute path inside a line of gunicorn's own: "Error handling request GET
# /x?y", "Invalid request from ip=...: Invalid Request Line 'GET /x'".
_URL_IN_TEXT = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s'"]+|(?<![^\s'"(=])/[^\s'"]*""")


def redact_text(text: str) -> str:
    """Every URL and path in a free-form line, redacted as in the access log."""
    return _URL_IN_TEXT.sub(
        lambda found: (redact_url if "://" in found[0] else redact_path)(found[0]), text)


class AccessLogger(glogging.Logger):
    """gunicorn's logger, whose lines never show a token URL or a query string: the access
    lines' atoms are redacted, and so are gunicorn's warnings and errors, which quote the
    request target of a request it could not parse or that failed outside the app.

    Set ``logger_class = "ov.observability.AccessLogger"`` in the gunicorn configuration.
    ``%({x-request-id}o)s`` in ``access_log_format`` adds the request id."""

    def atoms(self, resp, req, environ, request_time):
        return redact_atoms(super().atoms(resp, req, environ, request_time), environ)

    @staticmethod
    def _line(msg, args) -> str:
        text = str(msg)
        if args:
            try:
                text %= args
            except (TypeError, ValueError):  # a mismatched format must not stop the worker
                text = " ".join([text, *map(str, args)])
        return redact_text(text)

    def critical(self, msg, *args, **kwargs):
        super().critical(self._line(msg, args), **kwargs)

    def error(self, msg, *args, **kwargs):
        super().error(self._line(msg, args), **kwargs)

    def warning(self, msg, *args, **kwargs):
        super().warning(self._line(msg, args), **kwargs)

    def exception(self, msg, *args, **kwargs):
        super().exception(self._line(msg, args), **kwargs)


# --- the app ------------------------------------------------------------------------------


def _start() -> None:
    request.environ.setdefault(_STARTED_KEY, time.perf_counter())


def _finish(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id()
    environ = request.environ
    if environ.get(_DONE_KEY):  # an error page for a failure after this hook already ran
        return response
    environ[_DONE_KEY] = True
    started = environ.get(_STARTED_KEY)
    seconds = time.perf_counter() - started if started is not None else 0.0
    route, method = route_label(), method_label()
    REQUESTS.labels(route, method, str(response.status_code)).inc()
    LATENCY.labels(route, method).observe(seconds)
    duration_ms = round(seconds * 1000, 1)
    logging.getLogger(REQUEST_LOGGER).info(
        "%s %s %s %s ms", method, route, response.status_code, duration_ms,
        extra={"method": method, "route": route, "status": response.status_code,
               "duration_ms": duration_ms},
    )
    return response


def init_app(app: Flask) -> None:
    """Call before any other hook is registered: this after-request hook then runs last and
    sees the final status (Flask runs after-request hooks in reverse order)."""
    global _redactor
    production = app.config["OV_ENV"] == "production"
    app.config["OV_LOG_FORMAT"] = app.config.get("OV_LOG_FORMAT") or (
        "json" if production else "text")
    configure_logging(app.config["OV_LOG_FORMAT"])
    _redactor = app.extensions["ov_redactor"] = Redactor(app.url_map)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.add_template_global(request_id, "request_id")
    if app.config.get("OV_METRICS_TOKEN"):
        from ov.extensions import csrf

        view = csrf.exempt(metrics)
        app.add_url_rule(METRICS_PATH, endpoint="metrics", view_func=view,
                         methods=sorted(METHODS - {"HEAD"}), provide_automatic_options=False)
