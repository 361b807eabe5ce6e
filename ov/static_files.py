"""Static files, compressed once and served with a content hash in the URL.

Templates call ``asset('css/ov.css')``, which gives ``/static/css/ov.css?v=<hash>``. A URL with
the current hash may be cached for a year; the file's bytes are compressed once (brotli at the
highest level, gzip -9) and kept in memory, so no request pays for compression and no file handle
is streamed through Flask-Compress.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

import brotli
from flask import Flask, abort, request, url_for
from werkzeug.security import safe_join

STATIC_DIR = Path(__file__).resolve().parent / "static"
COMPRESSIBLE = {".css", ".js", ".svg", ".json", ".txt", ".html", ".xml"}
ONE_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Asset:
    raw: bytes
    mimetype: str
    version: str
    encoded: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Asset:
        raw = path.read_bytes()
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if mimetype.startswith("text/") or mimetype in {"application/javascript", "image/svg+xml"}:
            mimetype += "; charset=utf-8"
        encoded: dict[str, bytes] = {}
        if path.suffix in COMPRESSIBLE:
            encoded["br"] = brotli.compress(raw, quality=11)
            encoded["gzip"] = gzip.compress(raw, compresslevel=9, mtime=0)
        return cls(raw, mimetype, hashlib.sha256(raw).hexdigest()[:12], encoded)


class AssetStore:
    """Loads each file once; in debug mode reloads it when it changes on disk."""

    def __init__(self, root: Path, reload: bool = False) -> None:
        self.root = root
        self.reload = reload
        self._cache: dict[str, tuple[float, Asset]] = {}

    def get(self, filename: str) -> Asset | None:
        joined = safe_join(str(self.root), filename)
        if joined is None:
            return None
        path = Path(joined)
        if not path.is_file():
            return None
        cached = self._cache.get(filename)
        if cached and (not self.reload or cached[0] == path.stat().st_mtime):
            return cached[1]
        asset = Asset.load(path)
        self._cache[filename] = (path.stat().st_mtime, asset)
        return asset


def pick_encoding(asset: Asset, accept_encoding: str) -> str | None:
    offered = {part.split(";")[0].strip().lower() for part in accept_encoding.split(",")}
    for name in ("br", "gzip"):
        if name in asset.encoded and name in offered:
            return name
    return None


def init_app(app: Flask) -> None:
    store = AssetStore(STATIC_DIR, reload=app.debug)
    app.extensions["ov_assets"] = store

    def static(filename: str):
        asset = store.get(filename)
        if asset is None:
            abort(404)
        encoding = pick_encoding(asset, request.headers.get("Accept-Encoding", ""))
        body = asset.encoded[encoding] if encoding else asset.raw
        response = app.response_class(body, mimetype=asset.mimetype)
        if encoding:
            response.headers["Content-Encoding"] = encoding
        response.vary.add("Accept-Encoding")
        response.set_etag(f"{asset.version}-{encoding or 'identity'}")
        if request.args.get("v") == asset.version:
            response.cache_control.public = True
            response.cache_control.max_age = ONE_YEAR
            response.cache_control.immutable = True
        else:
            response.cache_control.no_cache = True
        response.direct_passthrough = False
        return response.make_conditional(request)

    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=static)

    @app.template_global()
    def asset(filename: str) -> str:
        found = store.get(filename)
        if found is None:
            raise FileNotFoundError(f"static file {filename!r} does not exist")
        return url_for("static", filename=filename, v=found.version)
