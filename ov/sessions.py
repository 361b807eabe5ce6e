"""Server-side sessions: Flask-Session 0.8, with its SQLAlchemy backend made fit for us.

The browser keeps only a random session id in an ``HttpOnly``, ``SameSite=Lax`` cookie
(``Secure`` and named ``__Host-ov`` in production); the data lives in the ``web_session``
table, or in Redis when ``OV_REDIS_URL`` is set.

Why a subclass of Flask-Session's ``SqlAlchemySessionInterface``:

* the stock backend defines a new ``db.Model`` class at every ``init_app`` (a second app in
  the same process redefines the table, which raises under ``-W error``) and creates its
  table outside the migrations. Here the model is defined once, below, and the table comes
  from migration 0003;
* the stock backend reads and writes through the request's ``db.session`` and commits it,
  which would also commit whatever a view left pending. Here every storage call runs in a
  short session of its own on ``db.engine``;
* it stores naive ``datetime.utcnow()`` times; ours are aware UTC like every other column;
* ``regenerate()`` upstream does nothing for an empty session; ours always discards the old
  record and draws a new id (used at login, and at logout before the "you left" message);
* upstream, a request that saves writes its whole session back even when another request
  has deleted that session meanwhile, so a page still loading when "Desconectar" is pressed
  would bring the signed-out session back to life. Ours only updates a session that was read
  from the store; if its record has gone, it stays gone;
* upstream stores a session for every visitor whose page has a form, because Flask-WTF keeps
  its raw CSRF token in the session: every cookie-less look at ``/entrar`` left a row (or a
  key) for 12 hours. Ours stores nothing for a session that holds only that token: the token
  travels in a signed cookie of its own (``ov_csrf``; ``__Host-ov_csrf``, ``Secure``, in
  production; ``HttpOnly`` and ``SameSite=Lax`` like the session cookie, with the same
  lifetime) and is put back in the session when the next request opens it. Flask-WTF checks
  the form's signed token against it exactly as before, so CSRF protection is unchanged: the
  raw token is still a secret the page's scripts cannot read, tied to our secret key twice
  (the cookie's signature and the form token's), and a token from another browser or a
  tampered cookie does not match. A server-side session starts when anything else is written
  (a sign-in, a registration draft, a message to show after a redirect); from then on the
  token lives in it and the light cookie is deleted. A session read from the store stays
  there until it ends (never moved back to a cookie: that could lose a concurrent write);
* static files and the health checks (``SKIP_PATHS``) get an empty session that is never
  read from the store nor saved, so they cost no store round trip and send no
  ``Vary: Cookie``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, g
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from flask_session.defaults import Defaults
from flask_session.redis import RedisSessionInterface
from flask_session.sqlalchemy import SqlAlchemySessionInterface
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import Integer, LargeBinary, String, bindparam, delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from ov.extensions import db
from ov.models.common import UTCDateTime, utcnow
from ov.outages import REDIS_ERRORS, redis_client

TABLE = "web_session"
log = logging.getLogger(__name__)
#: Requests that never need a session: served without reading or saving one.
SKIP_PREFIXES = ("/static/",)
SKIP_PATHS = frozenset({"/healthz", "/readyz"})
#: Keys a session may hold and still live in the light cookie alone (``_permanent`` is
#: Flask-Session's own flag, not data).
FLAG_KEYS = frozenset({"_permanent"})
CSRF_COOKIE_SALT = "ov.csrf-cookie"


class SessionRecord(db.Model):
    """One browser session: its id (as stored, with the key prefix), data and expiry."""

    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(255), unique=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    expiry: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


#: Read on nearly every request: built once, run on a plain connection (no ORM session).
_READ = select(SessionRecord.data, SessionRecord.expiry).where(
    SessionRecord.session_id == bindparam("store_id")
)


class StoredSession(ServerSideSession):
    """A server-side session that knows whether it was read from the store, and whether its
    record was found gone when saving."""

    stored = False
    gone = False
    #: Written to the store by this request (a new record, or an update that found its own).
    saved = False
    #: Neither read nor saved: a static file or a health check.
    skipped = False
    #: The raw CSRF token the request's light cookie carried (None: no valid cookie).
    light_token: str | None = None
    #: Its stored record was deleted by ``regenerate`` during this request.
    dropped = False
    #: The browser brought a session id and the store could not be read (it is down): the
    #: request is answered 503 (ov.outages) and nothing is written over the session.
    unreadable = False


def csrf_cookie_name(app: Flask) -> str:
    """The light cookie beside the session cookie: ``ov_csrf``, ``__Host-ov_csrf`` in
    production (the session cookie's name, which carries the prefix, plus ``_csrf``)."""
    return app.config["SESSION_COOKIE_NAME"] + "_csrf"


def _csrf_field(app: Flask) -> str:
    return app.config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"


def _signer(app: Flask) -> TimestampSigner:
    return TimestampSigner(app.secret_key, salt=CSRF_COOKIE_SALT)  # type: ignore[arg-type]


def _skips(request: Request) -> bool:
    path = request.path
    return path in SKIP_PATHS or path.startswith(SKIP_PREFIXES)


class _OurSessions:
    """What both backends do differently from upstream: regenerate, never resurrect, keep
    a session holding only the CSRF token in a cookie, and skip static files."""

    session_class = StoredSession

    def open_session(self, app: Flask, request: Request) -> StoredSession:
        if _skips(request):
            session = self.session_class(sid="")
            session.skipped = True
            return session
        session = super().open_session(app, request)  # type: ignore[misc]
        # Upstream draws a new id when the cookie's session is not in the store. (The cookie
        # holds the bare id: ``use_signer`` stays off, see init_app.)
        session.stored = session.sid == request.cookies.get(app.config["SESSION_COOKIE_NAME"])
        session.unreadable = bool(g.pop("ov_session_unreadable", False))
        if not session.stored:
            token = self._read_light_cookie(app, request)
            if token is not None:
                # Put back as if it had been stored: neither modified nor accessed yet.
                dict.__setitem__(session, _csrf_field(app), token)
                session.light_token = token
        return session

    def _read_light_cookie(self, app: Flask, request: Request) -> str | None:
        value = request.cookies.get(csrf_cookie_name(app))
        if not value:
            return None
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            return _signer(app).unsign(value, max_age=max_age).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None  # forged, tampered with or expired: no token (the form "expired")

    def ensure_available(self) -> None:
        """Raise the store's error if it cannot be reached (the database store is checked
        by the sign-in's own queries)."""

    def regenerate(self, session: StoredSession) -> None:
        """Drop the stored record (if there is one) and draw a new id."""
        if session.stored:
            self._delete_session(self._get_store_id(session.sid))  # type: ignore[attr-defined]
            session.dropped = True
        session.sid = self._generate_sid(self.sid_length)  # type: ignore[attr-defined]
        session.stored = False
        session.modified = True

    def save_session(self, app: Flask, session: StoredSession, response: Response) -> None:
        if session.skipped or session.unreadable:
            return  # unreadable: no new session, no cookie; the browser's comes back later
        if not session.stored and dict.keys(session) - FLAG_KEYS <= {_csrf_field(app)}:
            self._save_light(app, session, response)
            return
        super().save_session(app, session, response)  # type: ignore[misc]
        if session.saved and session.light_token is not None:
            # The stored session holds the token now: one place for it.
            self._delete_light_cookie(app, response)

    def _save_light(self, app: Flask, session: StoredSession, response: Response) -> None:
        """Nothing but the CSRF token (or nothing at all): no record, no session cookie; the
        token goes in the light cookie when it is new."""
        if session.accessed:
            response.vary.add("Cookie")
        if session.dropped:  # its record is gone: so is the browser's id for it
            response.delete_cookie(
                self.get_cookie_name(app),  # type: ignore[attr-defined]
                domain=self.get_cookie_domain(app),  # type: ignore[attr-defined]
                path=self.get_cookie_path(app),  # type: ignore[attr-defined]
                secure=self.get_cookie_secure(app),  # type: ignore[attr-defined]
                httponly=True, samesite="Lax",
            )
            response.vary.add("Cookie")
        token = dict.get(session, _csrf_field(app))
        if token == session.light_token:
            return
        if token is None:
            self._delete_light_cookie(app, response)
            return
        response.set_cookie(
            csrf_cookie_name(app), _signer(app).sign(token).decode("ascii"),
            max_age=int(app.permanent_session_lifetime.total_seconds()), path="/",
            secure=self.get_cookie_secure(app),  # type: ignore[attr-defined]
            httponly=True, samesite="Lax",
        )
        response.vary.add("Cookie")

    def _delete_light_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            csrf_cookie_name(app), path="/",
            secure=self.get_cookie_secure(app),  # type: ignore[attr-defined]
            httponly=True, samesite="Lax",
        )

    def should_set_cookie(self, app: Flask, session: StoredSession) -> bool:
        # A session that was not saved (its record had gone) gets no cookie either: that
        # cookie could overwrite the new one the sign-out just sent.
        return not session.gone and super().should_set_cookie(app, session)  # type: ignore[misc]


class DatabaseSessionInterface(_OurSessions, SqlAlchemySessionInterface):
    """Flask-Session's SQLAlchemy backend on our model, table and transactions."""

    def __init__(self, app: Flask, **params: Any) -> None:
        # Deliberately not SqlAlchemySessionInterface.__init__: it defines a model and
        # creates a table. The generic initialiser sets the cookie and serializer options
        # and registers the `flask session_cleanup` command (no TTL in SQL).
        self.client = db
        self.sql_session_model = SessionRecord
        ServerSideSessionInterface.__init__(self, app, **params)

    def _retrieve_session_data(self, store_id: str) -> dict | None:
        try:
            with db.engine.connect() as connection:
                row = connection.execute(_READ, {"store_id": store_id}).first()
        except SQLAlchemyError as exc:
            _unreadable(exc)
            return None
        if row is None or row.expiry <= utcnow():
            return None  # an expired row is left for session_cleanup
        return self.serializer.decode(bytes(row.data))

    def _delete_session(self, store_id: str) -> None:
        with Session(db.engine) as storage, storage.begin():
            storage.execute(delete(SessionRecord).where(SessionRecord.session_id == store_id))

    def _upsert_session(
        self, session_lifetime: timedelta, session: StoredSession, store_id: str
    ) -> None:
        data = self.serializer.encode(session)
        expiry = utcnow() + session_lifetime
        try:
            with Session(db.engine) as storage, storage.begin():
                if session.stored:
                    # One UPDATE: a record another request deleted (a sign-out), before or
                    # while this one ran, matches no row and stays deleted.
                    changed = storage.execute(
                        update(SessionRecord)
                        .where(SessionRecord.session_id == store_id)
                        .values(data=data, expiry=expiry)
                    ).rowcount
                    session.gone = changed == 0
                else:  # a new, random id
                    storage.add(SessionRecord(session_id=store_id, data=data, expiry=expiry))
            session.saved = not session.gone
        except SQLAlchemyError as exc:
            # Not saved: the next form gets the "page expired" answer with its data kept.
            # (Deleting, at logout, is never silenced: it must happen or fail loudly.)
            log.error("session store unreachable on write: %s", type(exc).__name__)

    def _delete_expired_sessions(self) -> None:
        purge_expired()


def purge_expired() -> int:
    """Delete the stored sessions that have expired; how many. (Redis expires its own.)"""
    with Session(db.engine) as storage, storage.begin():
        deleted = storage.execute(delete(SessionRecord).where(SessionRecord.expiry <= utcnow()))
        return deleted.rowcount or 0


def _unreadable(exc: Exception) -> None:
    """The store is down: this request's session is unreadable (see StoredSession)."""
    log.error("session store unreachable on read: %s", type(exc).__name__)
    g.ov_session_unreadable = True


class RedisSessions(_OurSessions, RedisSessionInterface):
    """Flask-Session's Redis backend (Redis expires the keys itself)."""

    def ensure_available(self) -> None:
        self.client.ping()

    def _retrieve_session_data(self, store_id: str) -> dict | None:
        try:
            return super()._retrieve_session_data(store_id)
        except REDIS_ERRORS as exc:
            _unreadable(exc)
            return None

    def _upsert_session(
        self, session_lifetime: timedelta, session: StoredSession, store_id: str
    ) -> None:
        # XX: a session read from the store is only updated, never created again.
        try:
            saved = self.client.set(
                name=store_id,
                value=self.serializer.encode(session),
                ex=int(session_lifetime.total_seconds()),
                xx=session.stored,
            )
        except REDIS_ERRORS as exc:
            # Not saved, as with the database store: the next form is answered 503 while
            # Redis is down, and "page expired" (its answers kept) once it is back.
            log.error("session store unreachable on write: %s", type(exc).__name__)
            return
        session.gone = not saved
        session.saved = bool(saved)


def init_app(app: Flask) -> None:
    """Install the session interface the settings ask for."""
    config = app.config
    params = {
        "key_prefix": config.get("SESSION_KEY_PREFIX", "ov:session:"),
        "use_signer": False,  # the id is random; _OurSessions.open_session relies on this
        "permanent": True,
        "sid_length": Defaults.SESSION_ID_LENGTH,
        "serialization_format": "msgpack",
    }
    # How long the store keeps a session: the longest a signed-in session may last, and at
    # least as long as a form's CSRF token (anonymous visitors on slow phones).
    app.permanent_session_lifetime = max(
        timedelta(hours=config["OV_SESSION_MAX_HOURS"]),
        timedelta(seconds=config["WTF_CSRF_TIME_LIMIT"] or 0),
    )
    if config["OV_REDIS_URL"]:
        client = redis_client(config["OV_REDIS_URL"], config["OV_REDIS_TIMEOUT"])
        app.session_interface = RedisSessions(app, client=client, **params)
    else:
        app.session_interface = DatabaseSessionInterface(app, **params)

