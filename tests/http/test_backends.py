"""The servers behind the portal: PostgreSQL and Redis in CI's second pass, outages always."""

from __future__ import annotations

import pytest
from flask import Blueprint
from sqlalchemy import inspect

from ov import create_app
from ov.extensions import csrf, db, limiter
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, settings_for


def test_readiness_fails_when_the_database_cannot_be_reached(tmp_path):
    app = create_app(
        {**settings_for(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite:////nonexistent/dir/ov.db"}
    )
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    expected = {"status": "unavailable", "database": "unavailable"}
    if TEST_REDIS_URL:  # the second CI pass: Redis is configured, and up
        expected["redis"] = "ok"
    assert response.get_json() == expected
    assert client.get("/healthz").status_code == 200  # alive, only not ready
    assert client.get("/aviso-legal").status_code == 200  # help pages need no database


@pytest.mark.postgres
def test_the_suite_runs_on_postgresql_with_the_migrated_schema(app):
    assert TEST_DATABASE_URL
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        inspector = inspect(db.engine)
        invoice_indexes = {index["name"] for index in inspector.get_indexes("invoice")}
        uniques = {u["name"] for u in inspector.get_unique_constraints("user_account")}
    assert "ix_invoice_account_issue" in invoice_indexes
    assert any("account_id" in name for name in uniques)


limited = Blueprint("limited", __name__)


@limited.post("/_prueba/compartida")  # the portal limits form posts only
@csrf.exempt
@limiter.limit("3/minute", key_func=lambda: "shared-test-key")
def shared():
    return "ok"


def limited_app(tmp_path, name: str):
    """One of several workers: its own app and process memory, the same Redis."""
    app = create_app({**settings_for(tmp_path / name), "RATELIMIT_STORAGE_URI": TEST_REDIS_URL})
    app.register_blueprint(limited)
    return app


@pytest.mark.redis
def test_rate_limits_are_shared_by_workers_through_redis(tmp_path):
    import redis

    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    first, second = (limited_app(tmp_path, n).test_client() for n in ("uno", "dos"))
    codes = [client.post("/_prueba/compartida").status_code for client in (first, second) * 2]
    assert codes == [200, 200, 200, 429]
