"""The email-confirmation pages in a real phone-sized Chromium (they need a signed token)."""

from __future__ import annotations

import pytest

from ov.extensions import db
from ov.models import User
from ov.services import tokens

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_db")]


def new_token(app, username: str = "usuPDFactura1") -> str:
    with app.app_context():
        user = User(username=username, password_hash="x", email=f"{username}@ejemplo.mx")
        db.session.add(user)
        db.session.commit()
        return tokens.email_confirmation_token(user)


def test_the_confirmation_pages_pass_axe_and_fit_a_phone(page, axe, app):
    token = new_token(app)
    for url in [f"/confirmar-correo/{token}", "/confirmar-correo/enlace-que-no-vale"]:
        page.goto(url)
        axe(page)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 360, url
    page.goto(f"/confirmar-correo/{token}")
    page.get_by_role("button", name="Confirmar mi correo").click()
    page.wait_for_url("**/correo-confirmado")
    assert page.get_by_role("heading", level=1).inner_text() == "Correo confirmado"
    page.goto(f"/confirmar-correo/{token}")  # the same link again: already confirmed
    assert "ya está confirmado" in page.locator("main").inner_text()
    axe(page)


def test_confirming_works_without_javascript(page_nojs, app):
    token = new_token(app, "sinJavaScript1")
    page_nojs.goto(f"/confirmar-correo/{token}")
    page_nojs.get_by_role("button", name="Confirmar mi correo").click()
    page_nojs.wait_for_url("**/correo-confirmado")
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(username="sinJavaScript1"))
        assert user.email_confirmed_at is not None
