"""The Flask subclass: its hooks are not inspected again on every request."""

from __future__ import annotations

import flask.app
from flask import after_this_request

from ov import Portal


def counting(monkeypatch) -> list:
    asked: list = []
    real = flask.app.iscoroutinefunction

    def inspect(func) -> bool:
        asked.append(func)
        return real(func)

    monkeypatch.setattr(flask.app, "iscoroutinefunction", inspect)
    return asked


def test_a_page_asks_about_no_registered_hook_after_the_first(client, monkeypatch):
    assert client.get("/atencion-al-cliente").status_code == 200
    asked = counting(monkeypatch)
    assert client.get("/atencion-al-cliente").status_code == 200
    assert asked == []


def test_a_function_not_registered_is_still_asked_about_and_run(monkeypatch):
    app = Portal(__name__)
    ran: list[str] = []

    @app.get("/")
    def page():
        @after_this_request
        def later(response):
            ran.append("later")
            return response
        return "hola"

    client = app.test_client()
    assert client.get("/").text == "hola"
    asked = counting(monkeypatch)
    assert client.get("/").text == "hola"
    assert [func.__name__ for func in asked] == ["later"]  # the closure, made per request
    assert ran == ["later", "later"]
