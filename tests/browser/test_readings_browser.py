"""Autolectura in a phone-sized Chromium: a reading sent with a photo of the meter, and a
questioned reading confirmed, with and without JavaScript; axe on the form, its error state,
its confirm state and the page of the reading received."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ov.extensions import db
from ov.models import Photo, ReadingSubmission
from ov.services import passwords, readings
from tests.support import images
from tests.support.factories import make_customer, make_invoices
from tests.support.journeys import PASSWORD
from tests.support.reflow import check_reflow

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean_db")]

URL = "/mi-oficina/consumos/lectura"
USERNAME = "usuLecturaMovil"


@pytest.fixture
def last_reading(app) -> int:
    """A customer with six bills; the value of their last real reading."""
    with app.app_context():
        _, account = make_customer(username=USERNAME,
                                   password_hash=passwords.hash_password(PASSWORD))
        make_invoices(account, 6)
        db.session.commit()
        return readings.basis(account.id).last_real.value


def sign_in(tab) -> None:
    tab.goto("/entrar")
    tab.fill("#usuario", USERNAME)
    tab.fill("#contrasena", PASSWORD)
    tab.get_by_role("button", name="Entrar", exact=True).click()
    tab.wait_for_url("**/mi-oficina")


def kept(app) -> list[tuple[int, str | None, int | None]]:
    with app.app_context():
        rows = db.session.scalars(select(ReadingSubmission).order_by(ReadingSubmission.id))
        return [(row.value, row.confirmed, row.photo_id) for row in rows]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_reading_with_a_photo_from_the_phone(request, app, tmp_path, javascript,
                                               last_reading):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    sign_in(tab)
    tab.goto(URL)
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(images.photo(3000, 2250, noise=True, quality=85))  # over 4 MB
    posted: list = []  # the handler only takes note: a Playwright call in it would race
    tab.on("requestfinished", lambda r: posted.append(r)
           if r.method == "POST" and URL in r.url else None)
    tab.fill("#lectura", str(last_reading + 4))
    tab.set_input_files("#foto", str(photo))
    if javascript:  # the browser shrinks it before it goes
        expect(tab.locator("#foto-estado")).to_contain_text("Foto lista")
    tab.get_by_role("button", name="Enviar mi lectura").click()
    expect(tab.locator("h1")).to_have_text("Recibimos tu lectura")
    assert re.search(r"/mi-oficina/consumos/lectura/\d+$", tab.url)
    expect(tab.locator("main")).to_contain_text("«del cliente, en revisión»")
    [(value, confirmed, photo_id)] = kept(app)
    assert (value, confirmed) == (last_reading + 4, None) and photo_id is not None
    with app.app_context():
        assert db.session.get(Photo, photo_id).width == 1600
    if javascript:  # a few hundred KB went instead of 4 MB (Playwright cannot size the
        # body of a plain form's file upload, so the no-JS case is judged by what was kept)
        sent = [r.sizes()["requestBodySize"] for r in posted]
        assert sent and 100_000 < max(sent) < 1_000_000, sent
    tab.get_by_role("link", name="Ver la foto que enviaste").wait_for()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_lower_reading_is_confirmed_in_a_second_step(request, app, javascript,
                                                       last_reading):
    tab = request.getfixturevalue("page" if javascript else "page_nojs")
    sign_in(tab)
    tab.goto(URL)
    tab.fill("#lectura", str(last_reading - 7))
    tab.get_by_role("button", name="Enviar mi lectura").click()
    callout = tab.locator("#aviso-lectura")
    expect(callout).to_contain_text("es menor que la última lectura real")
    expect(tab.locator("#lectura")).to_have_value(str(last_reading - 7))
    assert tab.title().startswith("Confirma tu lectura")
    if javascript:  # focus went to the reason
        expect(callout).to_be_focused()
    assert kept(app) == []
    tab.get_by_role("button", name="Sí, es correcta: enviar mi lectura").click()
    expect(tab.locator("h1")).to_have_text("Recibimos tu lectura")
    expect(tab.locator("main")).to_contain_text("que es menor que la última lectura real")
    assert kept(app) == [(last_reading - 7, "lower", None)]


def test_the_form_its_error_and_its_confirm_step_pass_axe_at_360_px(page, axe, last_reading):
    sign_in(page)
    page.goto(URL)
    axe(page)
    check_reflow(page, URL)
    page.fill("#lectura", "12,5")
    page.get_by_role("button", name="Enviar mi lectura").click()
    expect(page.locator(".error-summary")).to_contain_text("sin punto ni coma")
    expect(page.locator(".error-summary")).to_be_focused()
    assert page.title().startswith("Error: ")
    axe(page)
    check_reflow(page, URL + " (error)")
    page.fill("#lectura", str(last_reading + 9000))
    page.get_by_role("button", name="Enviar mi lectura").click()
    expect(page.locator("#aviso-lectura")).to_contain_text("más de 3 veces")
    axe(page)
    check_reflow(page, URL + " (confirm)")
    page.get_by_role("button", name="Sí, es correcta: enviar mi lectura").click()
    expect(page.locator("h1")).to_have_text("Recibimos tu lectura")
    axe(page)
    check_reflow(page, page.url)


def test_a_bad_photo_is_refused_beside_its_field(page, axe, tmp_path, app, last_reading):
    sign_in(page)
    page.goto(URL)
    fake = tmp_path / "foto.jpg"
    fake.write_bytes(images.html_named_jpeg())
    page.fill("#lectura", str(last_reading + 1))
    page.set_input_files("#foto", str(fake))
    page.get_by_role("button", name="Enviar mi lectura").click()
    expect(page.locator("#foto-error")).to_contain_text("El archivo no es una foto JPEG o PNG")
    expect(page.locator("#lectura")).to_have_value(str(last_reading + 1))
    axe(page)
    assert kept(app) == []
