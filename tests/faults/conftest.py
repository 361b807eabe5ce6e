"""The fault tests' own servers, and portals that run on them.

Each module gets a PostgreSQL cluster and a Redis server of its own (``tests/support/
servers.py``), which its tests stop and start; the machine's shared servers are never
touched. ``portal`` runs on both; ``portal_without_redis`` keeps its sessions and counts in
PostgreSQL and memory, as a deployment without Redis does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask

from ov import create_app
from ov.extensions import db, limiter
from tests.conftest import reset_schema, settings_for
from tests.support.servers import OwnPostgres, OwnRedis


@pytest.fixture(scope="module", autouse=True)
def _shared_limiter_restored() -> Iterator[None]:
    """The portals here bind the process's one Flask-Limiter to their own Redis, which the
    tests stop and then remove: give the limiter back its storage for the tests that follow
    (the suite's app keeps counting where it did)."""
    saved = dict(vars(limiter))
    yield
    vars(limiter).clear()
    vars(limiter).update(saved)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
        yield server
    finally:
        server.close()


def fault_settings(instance, postgres: OwnPostgres, redis: OwnRedis | None) -> dict:
    settings = settings_for(instance)
    settings.update({
        "SQLALCHEMY_DATABASE_URI": postgres.url,
        "OV_REDIS_URL": redis.url if redis else "",
        "RATELIMIT_STORAGE_URI": redis.url if redis else "memory://",
        "RATELIMIT_KEY_PREFIX": "ov-fault",
    })
    return settings


def _portal(tmp_path_factory, postgres: OwnPostgres, redis: OwnRedis | None,
            name: str) -> Iterator[Flask]:
    from ov.services import demo_data

    app = create_app(fault_settings(tmp_path_factory.mktemp(name), postgres, redis))
    if not getattr(postgres, "migrated", False):
        reset_schema(app)
        with app.app_context():
            demo_data.load_demo_data(accounts=5)
            db.session.remove()
        postgres.migrated = True  # type: ignore[attr-defined]
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    client = getattr(app.session_interface, "client", None)
    if redis is not None and client is not None:
        client.close()


@pytest.fixture(scope="module")
def portal(tmp_path_factory, own_postgres, own_redis) -> Iterator[Flask]:
    yield from _portal(tmp_path_factory, own_postgres, own_redis, "portal")


@pytest.fixture(scope="module")
def portal_without_redis(tmp_path_factory, own_postgres) -> Iterator[Flask]:
    yield from _portal(tmp_path_factory, own_postgres, None, "portal-no-redis")


@contextmanager
def down(server: OwnPostgres | OwnRedis) -> Iterator[None]:
    """The server is stopped inside the block and running again after it."""
    server.stop()
    try:
        yield
    finally:
        server.start()
