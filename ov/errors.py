"""Error pages in Spanish, as full pages or as fragments for htmx; never a traceback."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, url_for
from flask.globals import request_ctx
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from ov import outages
from ov.extensions import db
from ov.htmx import is_partial, render, retarget
from ov.observability import request_id


@dataclass(frozen=True)
class ErrorText:
    title: str
    message: str


ERRORS: dict[int, ErrorText] = {
    400: ErrorText(
        "Solicitud incorrecta",
        "No pudimos entender lo que envió tu navegador. Vuelve a la página anterior e "
        "inténtalo de nuevo.",
    ),
    403: ErrorText("Acceso denegado", "No tienes permiso para ver esta página."),
    404: ErrorText(
        "Página no encontrada",
        "La dirección no existe o cambió. Revisa que esté bien escrita o empieza desde el inicio.",
    ),
    405: ErrorText(
        "Acción no permitida",
        "Esta página no admite esa acción. Vuelve a la página anterior y usa sus botones.",
    ),
    413: ErrorText(
        "Envío demasiado grande",
        "Lo que enviaste es más grande de lo que admite el formulario. Revisa los datos e "
        "inténtalo de nuevo.",
    ),
    422: ErrorText(
        "Datos no válidos",
        "Algunos datos no son válidos. Vuelve al formulario, revísalos e inténtalo de nuevo.",
    ),
    429: ErrorText(
        "Demasiados intentos",
        "Hiciste muchos intentos en poco tiempo. Por tu seguridad, espera unos minutos y "
        "vuelve a intentarlo.",
    ),
    500: ErrorText(
        "Error del servidor",
        "Algo falló de nuestro lado y no se completó la operación. Inténtalo de nuevo en unos "
        "minutos; si vuelve a pasar, llama a Atención al cliente.",
    ),
    503: ErrorText(
        "Servicio no disponible",
        "La Oficina Virtual no está disponible en este momento. Inténtalo de nuevo en unos "
        "minutos.",
    ),
}
EXPIRED = ErrorText(
    "La página caducó",
    "Por seguridad, los formularios caducan después de un tiempo o cuando se abren en otra "
    "pestaña. Vuelve a enviarlo.",
)
# A form lists, in this hidden field, the names of its answers that may be sent back after
# its page expired (never passwords, tokens or CAPTCHA answers). Unlisted fields are dropped.
KEEPABLE_FIELD = "conservar"
#: Every answer any form may list there. A new form's keepable fields are added here.
KEEPABLE_NAMES = frozenset({
    "zona", "cuenta", "factura",  # step 1, recovery by bill
    "usuario", "correo", "correo2",  # step 2, login, recovery
    "factura_electronica", "avisos",  # step 3
    "next",  # login
})
# Flask-WTF's reasons that mean "the form is old", as opposed to a broken or forged request.
# "Do not match" is a form from before the session changed (a login in another tab).
EXPIRED_REASONS = (
    "The CSRF token has expired.",
    "The CSRF session token is missing.",
    "The CSRF tokens do not match.",
)
RETRY_SECONDS = {429: 60, 503: 30}


def _same_origin() -> bool:
    """True when the browser says the request came from one of our own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return bool(origin) and urlsplit(origin).netloc == request.host


def _answers_to_keep() -> list[tuple[str, str]]:
    """The answers the expired form marked as keepable, to send again with a fresh token.

    The form's list is only a request: nothing outside ``KEEPABLE_NAMES`` is ever kept, so a
    crafted list cannot make the page (or the session, after a timeout) hold a password."""
    keepable = set(request.form.get(KEEPABLE_FIELD, "").split(",")) & KEEPABLE_NAMES
    return [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name in keepable and len(value) <= 500
    ][:50]


PLAIN_PAGE = (
    '<!doctype html><html lang="es-MX"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title}</title><h1>{title}</h1><p>{message}</p><p><a href=\"/\">Ir al inicio</a></p>"
    "<p>Número de incidente: <strong>{incident}</strong></p>"
)


def _ensure_url_builder() -> None:
    """A request with a malformed ``Host`` header has no URL builder, and the error page needs
    one for its links; bind one to a placeholder host (the links are paths: it never shows)."""
    ctx = request_ctx._get_current_object()
    if ctx.url_adapter is None:
        ctx.url_adapter = current_app.url_map.bind(
            "localhost", script_name=request.script_root or "/", url_scheme=request.scheme
        )


def error_response(code: int, text: ErrorText | None = None, **context):
    """The Spanish page for ``code``; for htmx, a fragment that replaces the main content
    (an error must not land inside the small element a request targeted, like one field)."""
    text = text or ERRORS.get(code) or ERRORS[500 if code >= 500 else 400]
    try:
        _ensure_url_builder()
        response = render(
            "errors/error.html", "content", status=code, code=code, error=text, **context
        )
    except Exception:  # the page itself failed: answer plainly rather than with a traceback
        current_app.logger.exception("error page %s could not be rendered", code)
        body = PLAIN_PAGE.format(title=text.title, message=text.message, incident=request_id())
        response = current_app.response_class(body, status=code, mimetype="text/html")
    if code in RETRY_SECONDS:
        response.headers["Retry-After"] = str(RETRY_SECONDS[code])
    if is_partial():
        retarget(response, "#contenido", "innerHTML")
    return response


def handle_http(exc: HTTPException):
    if exc.response is not None:  # answered already (a rate limit with its own reply)
        return exc.response
    code = exc.code or 500
    photo_text = _photo_too_large() if code == 413 else None
    if photo_text is not None and is_partial():
        return _photo_error_fragment(photo_text)
    response = error_response(code, photo_text)
    if isinstance(exc, RateLimitExceeded):
        response.headers["Retry-After"] = str(_limit_wait())
    if code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def _limit_wait() -> int:
    """Seconds until the limit this request broke renews (its window's end)."""
    from ov.extensions import limiter

    breached = limiter.current_limit
    if breached is None:
        return RETRY_SECONDS[429]
    return max(1, math.ceil(breached.reset_at - time.time()))


def _photo_too_large() -> ErrorText | None:
    """On a form that takes a photo, a body too large is the photo: say so, and the limit."""
    from ov import uploads

    if not uploads.takes_photo():
        return None
    megabytes = current_app.config["OV_PHOTO_MAX_MB"]
    return ErrorText(
        "La foto es demasiado grande",
        f"La foto pesa más de {megabytes} MB, lo más que admite el formulario, y no se guardó "
        "nada. Vuelve al formulario y elige una foto más pequeña (en la cámara del teléfono, "
        "una resolución menor), o envíalo sin foto.",
    )


#: Where a photo form shows the photo's error (the ``photo_input`` macro, field ``foto``).
PHOTO_ERROR_TARGET = "#foto-error"


def _photo_error_fragment(text: ErrorText):
    """With htmx, a photo too large is told beside the photo only: the rest of the form,
    and what the customer typed in it, stays as it is."""
    body = (f'<span class="field-error"><span class="visually-hidden">Error: </span>'
            f"{escape(text.message)}</span>")
    response = current_app.response_class(body, status=413, mimetype="text/html")
    return retarget(response, PHOTO_ERROR_TARGET, "innerHTML")


def handle_csrf(exc: CSRFError):
    """An expired form from our own page may be sent again; anything else is a bad request."""
    if exc.description not in EXPIRED_REASONS or request.method != "POST" or not _same_origin():
        return error_response(400)
    # The same address the form was sent to: its path built from the route (never from the
    # raw path, which could read as another host), and its query string as it came.
    retry = url_for(request.endpoint, **(request.view_args or {})) if (
        request.endpoint
    ) else "/"
    if request.query_string:
        retry += "?" + request.query_string.decode()
    response = error_response(400, EXPIRED, retry_action=retry, answers=_answers_to_keep())
    response.headers["Cache-Control"] = "no-store"
    return response


def _discard_transaction() -> None:
    try:
        db.session.rollback()
    except Exception:  # a connection already lost: the pool replaces it
        current_app.logger.warning("rollback failed after an outage", exc_info=False)


def handle_database(exc: OperationalError | InterfaceError):
    """The database cannot be reached or is locked: a temporary outage, not a bug. The page
    is drawn for an anonymous visitor, so it does not ask the database who is signed in."""
    outages.forget_user()
    _discard_transaction()
    current_app.logger.error("database unavailable: %s", type(exc.orig).__name__)
    return error_response(503)


def handle_redis(exc: Exception):
    """Redis cannot be reached (a sign-in replacing the session id): come back soon."""
    outages.forget_user()
    current_app.logger.error("redis unavailable: %s", type(exc).__name__)
    return error_response(503)


def handle_unexpected(exc: Exception):
    original = getattr(exc, "original_exception", None)  # raised outside the view
    if outages.database_error(original):
        return handle_database(original)  # type: ignore[arg-type]
    if isinstance(original, outages.REDIS_ERRORS):
        return handle_redis(original)
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    _discard_transaction()
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500)


def refuse_undecodable_query() -> None:
    """A query string that is not UTF-8 (raw bytes; percent-escapes are fine) is a bad
    request, answered before any view or hook reads it."""
    try:
        request.query_string.decode()
    except UnicodeDecodeError:
        abort(400)


def retry_after_on_unavailable(response):
    """Every 503 (a view's own too: the CAPTCHA provider down) says when to come back."""
    if response.status_code == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(RETRY_SECONDS[503])
    return response


def init_app(app: Flask) -> None:
    app.after_request(retry_after_on_unavailable)
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(OperationalError, handle_database)
    app.register_error_handler(InterfaceError, handle_database)
    for redis_error in outages.REDIS_ERRORS:
        app.register_error_handler(redis_error, handle_redis)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
