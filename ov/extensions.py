"""Bare extension instances, configured by ``create_app`` (no imports of the app here)."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

from ov.addresses import client_key

# Named constraints, so migrations can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login = LoginManager()
mail = Mail()
limiter = Limiter(key_func=client_key)
#: The methods no rate limit counts: every limit of the portal is on a form's POST.
UNLIMITED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@limiter.request_filter
def _only_looking() -> bool:
    """A page that is only looked at skips Flask-Limiter altogether (it would otherwise
    resolve every limit of the route on each request, only to find them all POST-only). A
    limit on a GET route would need this filter changed."""
    return request.method in UNLIMITED_METHODS


def limit_keys(*parts: str) -> list[str]:
    """The identifiers of a count in the rate-limit store, under the same key prefix as the
    counts of Flask-Limiter's decorators (``RATELIMIT_KEY_PREFIX``, which its ``init_app``
    keeps on the extension): what the decorators count can be read or cleared elsewhere."""
    prefix = limiter._key_prefix
    return [prefix, *parts] if prefix else list(parts)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL lets readers and one writer work at once; foreign keys are off by default.

    The busy timeout is the driver's ``timeout`` connect argument, set in ``create_app``.
    """
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
