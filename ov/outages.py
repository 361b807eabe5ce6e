"""Outages of what the portal depends on: a 503 that says "come back soon", never a 500.

* The database (SQLite busy, PostgreSQL down): a view's query raises; ``ov.errors`` answers
  the Spanish 503 page with ``Retry-After``. Before that page is drawn, ``forget_user`` makes
  the visitor anonymous for the rest of the request, so neither the page nor the response
  hooks try the database again to load who is signed in.
* The session store (the database, or Redis when ``OV_REDIS_URL`` is set): when a browser
  brings a session cookie and the store cannot be read, ``ov.sessions`` marks the session
  unreadable and ``refuse_unreadable_session`` answers 503 before anything else runs. The
  customer is not shown as signed out (they would sign in again for nothing), no form is
  judged "expired", and the session is not written over: once the store is back, the same
  cookie finds the same session.
* Redis, for anything else (a sign-in replacing the session id): ``ov.errors`` answers 503.
  Rate limits move to counts in memory while Redis is down (``ov.rate_limits``).

Nothing here keeps state between requests: recovery needs no restart. The pool's pre-ping
(PostgreSQL) and redis-py's reconnection find the server again on the next request.
"""

from __future__ import annotations

import redis
from flask import current_app, g, request, session
from flask_login import AnonymousUserMixin
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError as RedisReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError

#: What a dependency that cannot be reached raises.
DATABASE_ERRORS = (OperationalError, InterfaceError)
#: (A replica that refuses writes during a failover is an outage too.)
REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, RedisReadOnlyError)
#: Endpoints that answer for the process itself, whatever is down.
OPERATIONS = frozenset({"ops.healthz", "ops.readyz"})


def redis_client(url: str, timeout: float | None = None) -> redis.Redis:
    """A Redis client that gives up after ``OV_REDIS_TIMEOUT`` seconds (to connect, and for
    each answer) instead of waiting for ever on a server that hangs."""
    if timeout is None:
        timeout = float(current_app.config["OV_REDIS_TIMEOUT"])
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def forget_user() -> None:
    """The rest of this request sees an anonymous visitor, without asking the database."""
    g._login_user = AnonymousUserMixin()


def database_error(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def refuse_unreadable_session():
    """A session the store could not read: 503 at once (see the module's docstring)."""
    if getattr(session, "unreadable", False) and request.endpoint not in OPERATIONS:
        from ov.errors import error_response

        forget_user()
        return error_response(503)
    return None
