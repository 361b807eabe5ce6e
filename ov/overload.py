"""A bounded queue: a request that waited too long for a free thread is answered 503 at once.

On a billing-day surge more requests arrive than the app processes can serve; they wait in
the proxy's and the workers' queues, and past a point every customer waits many seconds and
many give up (their browsers time out, they press again and add to the queue). Serving them
late helps nobody. The proxy stamps each request with the time it received it
(``X-Request-Start: t=<seconds>``, nginx's ``$msec``; see docs/deploy.md); when a worker
takes up a request older than ``OV_QUEUE_LIMIT_MS``, this middleware answers it with a short
Spanish 503 page and ``Retry-After`` before Flask, the session or the database see it. Such
an answer costs microseconds, so the queue drains and the customers who are served are
served quickly; the others are told to come back in a few seconds.

Only a proxy's stamp is trusted (the middleware is installed with ``OV_TRUSTED_PROXIES``,
inside ``ov.addresses.ClientAddress``, and reads the stamp only of a request that came from
one of ``OV_PROXY_ADDRESSES``),
the health checks are never refused (a load balancer must see the process is alive), and a
missing or unreadable stamp means "not queued".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from markupsafe import escape

from ov.addresses import VIA_PROXY
from ov.observability import environ_request_id

log = logging.getLogger(__name__)

HEADER = "HTTP_X_REQUEST_START"
NEVER_REFUSED = frozenset({"/healthz", "/readyz"})
#: Seconds a refused customer is asked to wait: a surge passes in seconds, not minutes.
RETRY_SECONDS = 5
#: At most one log line per this many seconds, with how many were refused meanwhile.
LOG_EVERY = 10.0

TITLE = "Servicio no disponible"
MESSAGE = ("En este momento hay muchas personas usando la Oficina Virtual y no pudimos "
           "atenderte. Espera unos segundos y vuelve a intentarlo; lo que ya enviaste antes "
           "está guardado.")


def install(app) -> None:
    """Put the queue limit in front of ``app`` when a proxy stamps requests and a limit is
    set (``OV_TRUSTED_PROXIES`` and ``OV_QUEUE_LIMIT_MS``)."""
    limit = int(app.config["OV_QUEUE_LIMIT_MS"])
    if not (app.config["OV_TRUSTED_PROXIES"] and limit):
        return
    from ov.security import content_security_policy

    with app.test_request_context("/"):
        stylesheet = app.jinja_env.globals["asset"]("css/ov.css")
    headers = [("Content-Security-Policy", content_security_policy()),
               ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY")]
    app.wsgi_app = QueueLimit(app.wsgi_app, limit, page(stylesheet), headers)


def page(stylesheet: str = "") -> bytes:
    """The 503 page: the portal's stylesheet if given, and nothing that needs a request."""
    link = f'<link rel="stylesheet" href="{escape(stylesheet)}">' if stylesheet else ""
    return (
        '<!doctype html>\n<html lang="es-MX">\n<head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{TITLE}</title>{link}</head>\n<body>\n<main id=\"contenido\">\n"
        f'<div class="error-page">\n<h1>{TITLE}</h1>\n<p>{MESSAGE}</p>\n'
        '<p><a href="/">Ir al inicio</a></p>\n</div>\n</main>\n</body>\n</html>\n'
    ).encode()


def queued_since(value: str | None) -> float | None:
    """The proxy's stamp in seconds since the epoch (``t=1764633600.123``, also in
    milliseconds or microseconds), or None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("t="):
        text = text[2:]
    try:
        stamp = float(text)
    except ValueError:
        return None
    if stamp != stamp or stamp <= 0:  # NaN, or nonsense
        return None
    while stamp > 1e11:  # milliseconds or microseconds since the epoch
        stamp /= 1000
    return stamp


class QueueLimit:
    """WSGI middleware: refuse requests that waited longer than ``limit_ms`` in the queue."""

    def __init__(self, app: Callable, limit_ms: int, body: bytes,
                 headers: Iterable[tuple[str, str]] = (),
                 clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.headers = list(headers)
        self.limit = limit_ms / 1000
        self.body = body
        self.clock = clock
        self._lock = threading.Lock()
        self._refused = 0
        self._logged_at = 0.0

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        since = queued_since(environ.get(HEADER)) if environ.get(VIA_PROXY) else None
        if since is not None and environ.get("PATH_INFO") not in NEVER_REFUSED:
            now = self.clock()
            if now - since > self.limit:
                self._note(now)
                start_response("503 Service Unavailable", [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(self.body))),
                    ("Retry-After", str(RETRY_SECONDS)),
                    ("Cache-Control", "no-store"),
                    ("X-Request-ID", environ_request_id(environ, trusted=True)),  # via a proxy
                    *self.headers,
                ])
                return [self.body]
        return self.app(environ, start_response)

    def _note(self, now: float) -> None:
        with self._lock:
            self._refused += 1
            if now - self._logged_at < LOG_EVERY:
                return
            refused, self._refused, self._logged_at = self._refused, 0, now
        log.warning("overload: %d request(s) waited over %d ms and were answered 503",
                    refused, round(self.limit * 1000))
