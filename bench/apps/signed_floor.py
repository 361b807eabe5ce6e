"""The least a signed-in page can cost on this stack: what the portal's Mi oficina pages are
judged against, beside the minimal Flask page.

    OV_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ov_bench \\
    OV_REDIS_URL=redis://127.0.0.1:6379/7 BENCH_USER_ID=1 BENCH_PAGE_BYTES=20000 \\
        gunicorn -k gthread -w 1 --threads 4 -b 127.0.0.1:8103 \\
        'bench.apps.signed_floor:create_app()'

Each request does only what every signed-in page of the portal has to do, with the same
libraries and none of their conveniences:

* reads the session from Redis (one ``GET``, msgpack as Flask-Session stores it);
* on one pooled connection (pre-pinged, as the portal's): checks the user with one Core
  statement (the row exists, is not cancelled, and the session's stamp of the password
  still matches) and reads one thing to show with another (the user's last three invoices,
  through their links);
* renders a page that extends a base template and loops over those rows, padded to
  ``BENCH_PAGE_BYTES`` (the size of Mi oficina home) once, when the app is created.

No CSRF token, security headers, request id, log line, metrics, menus, formatting, ORM or
compression: the difference between this page's cost and a portal page's is what all of
that, and the page's other statements, cost.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

import msgspec
import redis
from flask import Flask, abort, render_template
from jinja2 import DictLoader
from sqlalchemy import bindparam, create_engine, select

from bench.apps import minimal_flask
from ov.models import Invoice, User, UserAccount

TEMPLATES = {
    "base.html": minimal_flask.TEMPLATES["base.html"],  # the same frame as the minimal page
    "page.html": (
        "{% extends \"base.html\" %}{% block title %}Mi oficina{% endblock %}"
        "{% block content %}<h1>Mi oficina</h1>\n<table>\n"
        "{% for invoice in invoices %}<tr><td>{{ invoice.number }}</td>"
        "<td>{{ invoice.issue_date }}</td><td>{{ invoice.total }}</td></tr>\n{% endfor %}"
        "</table>\n<p>{{ padding }}</p>{% endblock %}"
    ),
}
_USER = select(User.id, User.blocked_at, User.password_hash).where(
    User.id == bindparam("user_id"))
_LAST_INVOICES = (
    select(Invoice.number, Invoice.issue_date, Invoice.total)
    .join(UserAccount, UserAccount.account_id == Invoice.account_id)
    .where(UserAccount.user_id == bindparam("user_id"))
    .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    .limit(3)
)


def stamp(password_hash: str, key: bytes) -> str:
    return hmac.new(key, password_hash.encode(), hashlib.sha256).hexdigest()


def create_app() -> Flask:
    app = Flask(__name__)
    app.jinja_loader = DictLoader(TEMPLATES)
    engine = create_engine(os.environ["OV_DATABASE_URL"], pool_pre_ping=True)
    store = redis.Redis.from_url(os.environ["OV_REDIS_URL"])
    user_id = int(os.environ["BENCH_USER_ID"])
    key = secrets.token_bytes(32)
    with engine.connect() as connection:
        user = connection.execute(_USER, {"user_id": user_id}).one()
        invoices = connection.execute(_LAST_INVOICES, {"user_id": user_id}).all()
    # One session, as the portal keeps a signed-in one: the user, the stamp, a CSRF token.
    session_key = "bench-floor:" + secrets.token_urlsafe(16)
    store.set(session_key, msgspec.msgpack.encode({
        "_user_id": str(user_id), "_fresh": True, "ov_stamp": stamp(user.password_hash, key),
        "csrf_token": secrets.token_hex(20)}), ex=24 * 3600)
    size = int(os.environ.get("BENCH_PAGE_BYTES", "20000"))
    with app.app_context():
        bare = len(render_template("page.html", invoices=invoices, padding="").encode())
    padding = "x" * max(0, size - bare)
    app.extensions["signed_floor"] = {"engine": engine, "store": store}

    @app.get("/")
    def page():
        session = msgspec.msgpack.decode(store.get(session_key))
        with engine.connect() as connection:
            user = connection.execute(_USER, {"user_id": int(session["_user_id"])}).first()
            if (user is None or user.blocked_at is not None or not hmac.compare_digest(
                    stamp(user.password_hash, key), session["ov_stamp"])):
                abort(403)
            invoices = connection.execute(_LAST_INVOICES, {"user_id": user.id}).all()
        return render_template("page.html", invoices=invoices, padding=padding)

    return app
