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
from werkzeug.datastructures import Accept

STATIC_DIR = Path(__file__).resolve().parent / "static"
COMPRESSIBLE = {".css", ".js", ".svg", ".json", ".txt", ".html", ".xml"}
TEXT_TYPES = {"application/javascript", "image/svg+xml", "application/json"}
ONE_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Asset:
    raw: bytes
    content_type: str
    version: str
    encoded: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Asset:
        raw = path.read_bytes()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in TEXT_TYPES:
            content_type += "; charset=utf-8"
        encoded: dict[str, bytes] = {}
        if path.suffix in COMPRESSIBLE:
            encoded["br"] = brotli.compress(raw, quality=11)
            encoded["gzip"] = gzip.compress(raw, compresslevel=9, mtime=0)
        return cls(raw, content_type, hashlib.sha256(raw).hexdigest()[:12], encoded)


class AssetStore:
    """Every file under the static folder, read and compressed once at start-up.

    Only the exact relative paths found there are served: ``./``, ``..``, trailing slashes and
    other spellings are unknown keys and answer 404 without touching the disk. In debug mode
    the folder is read again when a file changes, so edits show without a restart.
    """

    def __init__(self, root: Path, reload: bool = False) -> None:
        self.root = root
        self.reload = reload
        self._stamp = self._fingerprint()
        self._assets = self._scan()

    def _fingerprint(self) -> tuple:
        return tuple(
            (str(path), path.stat().st_mtime_ns) for path in sorted(self.root.rglob("*"))
            if path.is_file()
        )

    def _scan(self) -> dict[str, Asset]:
        return {
            path.relative_to(self.root).as_posix(): Asset.load(path)
            for path in sorted(self.root.rglob("*"))
            if path.is_file() and not path.name.startswith(".")
        }

    def get(self, filename: str) -> Asset | None:
        if self.reload:
            stamp = self._fingerprint()
            if stamp != self._stamp:
                self._stamp, self._assets = stamp, self._scan()
        return self._assets.get(filename)


def pick_encoding(asset: Asset, accept: Accept) -> str | None:
    for name in ("br", "gzip"):
        if name in asset.encoded and accept.quality(name) > 0:
            return name
    return None


def init_app(app: Flask) -> None:
    store = AssetStore(STATIC_DIR, reload=app.debug)
    app.extensions["ov_assets"] = store

    def static(filename: str):
        asset = store.get(filename)
        if asset is None:
            abort(404)
        encoding = pick_encoding(asset, request.accept_encodings)
        body = asset.encoded[encoding] if encoding else asset.raw
        response = app.response_class(body, content_type=asset.content_type)
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

    # Every page asks for the same few URLs: built once per file version (and mount point).
    built: dict[tuple[str, str, str], str] = {}

    @app.template_global()
    def asset(filename: str) -> str:
        found = store.get(filename)
        if found is None:
            raise FileNotFoundError(f"static file {filename!r} does not exist")
        key = (request.script_root, filename, found.version)
        url = built.get(key)
        if url is None:
            url = built[key] = url_for("static", filename=filename, v=found.version)
        return url
