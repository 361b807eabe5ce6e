"""Response compression (brotli or gzip) for every status, not only 2xx.

Flask-Compress leaves 4xx and 5xx responses uncompressed, yet a re-rendered form with its
errors (422) is one of the commonest answers a customer on a slow link waits for. This hook
compresses any text response; static files arrive already compressed (ov/static_files.py).
"""

from __future__ import annotations

import gzip

import brotli
from flask import Flask, Response, request

TEXT_TYPES = {"text/html", "text/plain", "text/css", "application/json", "image/svg+xml",
              "application/javascript", "text/javascript", "text/xml", "application/xml"}
MIN_SIZE = 500


def choose(accepted) -> str | None:
    for name in ("br", "gzip"):
        if accepted.quality(name) > 0:
            return name
    return None


def compress(response: Response) -> Response:
    response.vary.add("Accept-Encoding")
    if (
        response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or response.mimetype not in TEXT_TYPES
        or request.method == "HEAD"
    ):
        return response
    encoding = choose(request.accept_encodings)
    data = response.get_data()
    if encoding is None or len(data) < MIN_SIZE:
        return response
    if encoding == "br":
        packed = brotli.compress(data, quality=5)
    else:
        packed = gzip.compress(data, compresslevel=6, mtime=0)
    response.set_data(packed)
    response.headers["Content-Encoding"] = encoding
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(f"{etag}-{encoding}")
    return response


def init_app(app: Flask) -> None:
    app.after_request(compress)
