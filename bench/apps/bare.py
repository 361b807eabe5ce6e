"""The floor: a bare WSGI app answering every request with a fixed HTML body.

    gunicorn -k gthread -w 1 --threads 4 -b 127.0.0.1:8101 bench.apps.bare:app

``BENCH_PAGE_BYTES`` sets the body's size (default 8,000 bytes); bench/cpu_per_request.py
gives it the size of the portal's /entrar so that the three compare like with like.
"""

from __future__ import annotations

import os

SIZE = int(os.environ.get("BENCH_PAGE_BYTES", "8000"))
_HEAD = b"<!doctype html>\n<html lang=\"es-MX\"><head><title>Referencia</title></head><body><p>"
_TAIL = b"</p></body></html>\n"
BODY = _HEAD + b"x" * max(0, SIZE - len(_HEAD) - len(_TAIL)) + _TAIL
HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
