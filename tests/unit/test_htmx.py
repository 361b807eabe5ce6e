"""ov.htmx: when a request is partial, and what render() returns."""

from __future__ import annotations

import pytest

from ov.htmx import client_redirect, is_partial, render


@pytest.mark.parametrize(
    ("headers", "partial"),
    [
        ({}, False),
        ({"HX-Request": "true", "HX-Request-Type": "partial"}, True),
        ({"HX-Request": "true", "HX-Request-Type": "full"}, False),
        ({"HX-Request": "true"}, False),
        ({"HX-History-Restore-Request": "true", "HX-Request-Type": "full"}, False),
        ({"HX-Request": "false", "HX-Request-Type": "partial"}, False),
    ],
)
def test_is_partial(app, headers, partial):
    with app.test_request_context("/", headers=headers):
        assert is_partial() is partial


def test_render_full_page_or_block(app):
    with app.test_request_context("/"):
        full = render("help/accessibility.html", "content").get_data(as_text=True)
    with app.test_request_context(
        "/", headers={"HX-Request": "true", "HX-Request-Type": "partial"}
    ):
        response = render("help/accessibility.html", "content", status=422)
        fragment = response.get_data(as_text=True)
    assert full.startswith("<!doctype html>")
    assert response.status_code == 422
    assert fragment.startswith("<title>") and "<body" not in fragment


def test_client_redirect(app):
    with app.test_request_context("/", headers={"HX-Request": "true"}):
        response = client_redirect("/aviso-legal")
        assert (response.status_code, response.headers["HX-Redirect"]) == (204, "/aviso-legal")
    with app.test_request_context("/"):
        response = client_redirect("/aviso-legal")
        assert (response.status_code, response.headers["Location"]) == (303, "/aviso-legal")
