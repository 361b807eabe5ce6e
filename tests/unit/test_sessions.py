"""Server-side sessions: one model for every app, the table from the migrations, clean ids."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import request, session
from sqlalchemy import func, inspect, select, update

from ov import create_app
from ov.extensions import db
from ov.models import utcnow
from ov.sessions import DatabaseSessionInterface, SessionRecord
from tests.conftest import (
    TEST_REDIS_URL,
    production_settings,
    settings_for,
)

pytestmark = pytest.mark.usefixtures("clean_db")


def rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SessionRecord))


def start_session(client) -> str:
    """Write something besides the CSRF token (as a sign-in or a draft does): the session is
    stored. (A look at a page stores nothing: tests/unit/test_anonymous_sessions.py.)"""
    with client.session_transaction() as stored:
        stored["ov_prueba"] = 1
    return client.get_cookie("ov").value


def test_several_apps_in_one_process_share_one_model_and_create_no_table(tmp_path):
    first = create_app({**settings_for(tmp_path / "a"), "OV_REDIS_URL": ""})
    second = create_app({**settings_for(tmp_path / "b"), "OV_REDIS_URL": ""})
    for app in (first, second):
        assert isinstance(app.session_interface, DatabaseSessionInterface)
        assert app.session_interface.sql_session_model is SessionRecord
    if "sqlite" in first.config["SQLALCHEMY_DATABASE_URI"]:
        with first.app_context():
            assert "web_session" not in inspect(db.engine).get_table_names()  # migrations do it


def test_a_session_lives_in_the_table_and_regenerate_drops_the_old_row(sql_app):
    app = sql_app
    client = app.test_client()
    old = start_session(client)
    assert rows(app) == 1
    with app.test_request_context(headers={"Cookie": f"ov={old}"}):
        app.session_interface.regenerate(session)
        assert session.sid != old
    assert rows(app) == 0


def save_after_signout(app, cookie: str) -> None:
    """A request that read the session, whose record another request (the sign-out) deletes
    before this one saves its change."""
    with app.test_request_context(headers={"Cookie": f"ov={cookie}"}):
        interface = app.session_interface
        opened = interface.open_session(app, request)
        assert opened.stored and "ov_prueba" in opened
        interface._delete_session(interface._get_store_id(opened.sid))
        opened["ov_seen"] = 1.0
        response = app.response_class()
        interface.save_session(app, opened, response)
        assert "Set-Cookie" not in response.headers


def test_a_session_deleted_meanwhile_is_not_brought_back(sql_app):
    app = sql_app
    client = app.test_client()
    save_after_signout(app, start_session(client))
    assert rows(app) == 0
    start_session(app.test_client())  # a new visitor still gets a new session
    assert rows(app) == 1


def test_an_expired_row_is_not_a_session_and_the_cleanup_deletes_it(sql_app):
    app = sql_app
    client = app.test_client()
    start_session(client)
    with app.app_context():
        db.session.execute(update(SessionRecord).values(expiry=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    with client.session_transaction() as stored:
        assert "ov_prueba" not in stored
    result = app.test_cli_runner().invoke(args=["session_cleanup"])
    assert result.exit_code == 0, result.output
    assert rows(app) == 0


def test_the_store_keeps_sessions_as_long_as_the_longest_limit(app):
    assert app.permanent_session_lifetime == timedelta(hours=12)
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_production_cookie_is_secure_with_the_host_prefix(tmp_path):
    app = create_app(production_settings(tmp_path))
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-ov"
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.redis
def test_with_redis_the_session_is_a_key_that_logout_deletes(tmp_path):
    import redis

    from ov.sessions import RedisSessions
    from tests.support.journeys import hidden

    app = create_app({**settings_for(tmp_path), "OV_REDIS_URL": TEST_REDIS_URL})
    assert isinstance(app.session_interface, RedisSessions)
    store = redis.Redis.from_url(TEST_REDIS_URL)
    client = app.test_client()
    sid = start_session(client)
    assert store.exists(f"ov:session:{sid}")
    token = hidden(client.get("/entrar").get_data(as_text=True), "csrf_token")
    client.post("/salir", data={"csrf_token": token})
    assert not store.exists(f"ov:session:{sid}")
    sid = start_session(app.test_client())
    save_after_signout(app, sid)
    assert not store.exists(f"ov:session:{sid}")
