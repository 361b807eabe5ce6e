"""Every page is valid HTML: the Nu HTML Checker reports nothing on any page the URL map serves,
signed in or not, in its error states, on the error pages, and on the fragments htmx swaps in.

Pages come from the URL map (tests/support/pages.py), and each page's own forms are sent back
empty, so a page or form added later is checked without anyone listing it here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from ov.extensions import db
from ov.models import User
from ov.services import auth as auth_service
from ov.services import tokens
from tests.support.journeys import PASSWORD, Registration, hidden, sign_in
from tests.support.nu import Documents, describe
from tests.support.pages import ERROR_PAGES, page_urls

pytestmark = pytest.mark.usefixtures("billing")

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial", "HX-Target": "main#contenido"}
# Forms whose empty submission changes who is signed in rather than showing an error state.
NOT_RESENT = {"/salir"}


class Forms(HTMLParser):
    """The POST forms of a page: their action and hidden fields (the CSRF token among them)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "form" and (values.get("method") or "").lower() == "post":
            self.found.append((values.get("action") or "", {}))
        elif tag == "input" and values.get("type") == "hidden" and self.found:
            self.found[-1][1][values.get("name") or ""] = values.get("value") or ""


def forms_of(html: str, url: str) -> list[tuple[str, dict[str, str]]]:
    parser = Forms()
    parser.feed(html)
    return [(action or url, hidden) for action, hidden in parser.found if action not in NOT_RESENT]


def visit(client, documents: Documents, url: str, *, resend_forms: bool = True) -> str:
    """The page, its fragment, and each of its forms sent back with only its hidden fields."""
    response = client.get(url, follow_redirects=True)
    html = response.get_data(as_text=True)
    documents.add(f"GET {url} ({response.status_code})", html)
    fragment = client.get(url, headers=PARTIAL)
    if fragment.status_code < 300 and fragment.mimetype == "text/html":
        documents.add_fragment(f"GET {url} as htmx fragment", fragment.get_data(as_text=True))
    if resend_forms:
        for action, hidden in forms_of(html, url):
            sent = client.post(action, data=hidden)
            if sent.mimetype == "text/html" and sent.status_code != 303:
                documents.add(f"POST {action} empty ({sent.status_code})",
                              sent.get_data(as_text=True))
    return html


def check(documents: Documents) -> None:
    found = documents.errors()
    assert not found, describe(found)


def test_every_public_page_and_error_state_is_valid_html(app, client, tmp_path):
    documents = Documents(tmp_path)
    for url in page_urls(app) + ERROR_PAGES:
        if not url.startswith("/mi-oficina"):
            visit(client, documents, url)
    for label, response in [
        ("POST /entrar without a CSRF token", client.post("/entrar", data={"usuario": "x"})),
        ("GET /salir (wrong method)", client.get("/salir")),
        ("POST /entrar too large", client.post(
            "/entrar", data={"usuario": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})),
    ]:
        assert response.status_code >= 400, label
        documents.add(f"{label} ({response.status_code})", response.get_data(as_text=True))
    assert len(documents.names) > 20  # the URL map really was walked
    check(documents)


def test_every_registration_step_and_its_errors_are_valid_html(app, client, tmp_path):
    documents = Documents(tmp_path)
    journey = Registration(client, app)
    documents.add("step 1 wrong bill", journey.step1(factura="ZE00000000").get_data(as_text=True))
    assert journey.step1().status_code == 303
    visit(client, documents, "/registro/paso-2")
    documents.add("step 2 mismatched answers", journey.step2(
        contrasena2="Otra1234x", correo2="otro@ejemplo.mx").get_data(as_text=True))
    assert journey.step2().status_code == 303
    visit(client, documents, "/registro/paso-3")
    assert journey.step3().status_code == 303
    visit(client, documents, "/registro/listo")
    check(documents)


def test_every_signed_in_page_and_form_is_valid_html(app, client, tmp_path):
    documents = Documents(tmp_path)
    assert Registration(client, app).complete().status_code == 303
    assert sign_in(client, "usuPDFactura1").status_code == 303
    offices = [url for url in page_urls(app) if url.startswith("/mi-oficina")]
    assert offices
    for url in offices:
        html = visit(client, documents, url)
        for lazy in re.findall(r'data-hx-get="([^"]+)" data-hx-trigger="load"', html):
            documents.add_fragment(f"lazy part {lazy}", client.get(
                lazy.replace("&amp;", "&"), headers=PARTIAL).get_data(as_text=True))
    invoices = client.get("/mi-oficina/facturas?pagina=1").get_data(as_text=True)
    details = sorted(set(re.findall(r'href="(/mi-oficina/facturas/\d+)"', invoices)))
    assert len(details) >= 3
    for url in details[:3] + details[-3:]:
        visit(client, documents, url)
    # Preferencias' three kinds of form were sent back empty: each a 422 page.
    refused = [label for label in documents.names.values()
               if label.startswith("POST /mi-oficina/datos/preferencias/")]
    assert len(refused) == 3 and all(name.endswith("(422)") for name in refused), refused
    check(documents)


def test_the_preferences_conflict_and_pending_request_are_valid_html(app, client, tmp_path):
    documents = Documents(tmp_path)
    assert Registration(client, app).complete().status_code == 303
    assert sign_in(client, "usuPDFactura1").status_code == 303
    url = "/mi-oficina/datos/preferencias"
    html = client.get(url).get_data(as_text=True)
    action = re.search(r'action="(/mi-oficina/datos/preferencias/formato/(\d+))"', html)
    answer = {"csrf_token": hidden(html, "csrf_token"),
              f"contrato{action.group(2)}-formato": "braille"}
    assert client.post(action.group(1), data=answer).status_code == 303
    visit(client, documents, url)  # the request pending, the confirmation shown
    for headers, label in (({}, "page"), (PARTIAL, "fragment")):
        again = client.post(action.group(1), data=answer, headers=headers)
        assert again.status_code == 409
        add = documents.add if label == "page" else documents.add_fragment
        add(f"POST {action.group(1)} while one is open ({label}, 409)",
            again.get_data(as_text=True))
    check(documents)


def test_pages_reached_with_a_mailed_token_are_valid_html(app, client, tmp_path):
    documents = Documents(tmp_path)
    assert Registration(client, app).complete().status_code == 303
    with app.app_context():
        user = db.session.scalars(db.select(User)).one()
        confirm = tokens.email_confirmation_token(user)
        reset = auth_service.reset_token(user)
    for url in [f"/confirmar-correo/{confirm}", f"/confirmar-correo/{confirm}",
                "/confirmar-correo/enlace-que-no-vale", "/recuperar/enlace/no-es-un-token"]:
        visit(client, documents, url, resend_forms=False)
    visit(client, documents, f"/recuperar/enlace/{reset}")  # leads to the new-password form
    documents.add("reset with mismatched passwords", client.post(
        "/recuperar/nueva-contrasena", data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', client.get(
                "/recuperar/nueva-contrasena").get_data(as_text=True)).group(1),
            "contrasena": PASSWORD, "contrasena2": PASSWORD + "x"}).get_data(as_text=True))
    check(documents)


def test_recovery_by_bill_and_its_undo_are_valid_html(app, client, tmp_path):
    from tests.http.test_recovery_by_bill import (
        NEW_EMAIL,
        OWNER_EMAIL,
        confirm_new_address,
        link_in,
        prove_bill,
        recover,
        undo,
    )
    from tests.support.rows import outbox

    documents = Documents(tmp_path)
    assert Registration(app.test_client(), app).complete().status_code == 303
    page = client.get("/recuperar/con-factura").get_data(as_text=True)
    wrong = client.post("/recuperar/con-factura", data={
        "csrf_token": hidden(page, "csrf_token"), "captcha_token": hidden(page, "captcha_token"),
        "zona": "1", "cuenta": "1", "factura": "ZE00000000"})
    documents.add(f"recovery by bill, wrong bill ({wrong.status_code})",
                  wrong.get_data(as_text=True))
    done = recover(app, client)
    visit(client, documents, done.location)
    confirm = link_in(app, NEW_EMAIL, "confirmar-correo")
    visit(client, documents, confirm, resend_forms=False)
    link = link_in(app, OWNER_EMAIL, "deshacer-cambio")
    visit(client, documents, link, resend_forms=False)  # the new address still waits
    confirm_new_address(app, client)
    visit(client, documents, link, resend_forms=False)  # the new address confirmed
    recover(app, client, email="otro@ejemplo.mx")  # a later change, told to the owner too
    visit(client, documents, link_in(app, OWNER_EMAIL, "deshacer-cambio"), resend_forms=False)
    # The address on the account undoes the later change: the owner hears of it, with a link.
    assert undo(app, app.test_client(), link_in(app, NEW_EMAIL, "deshacer-cambio")
                ).status_code == 303
    undone = undo(app, client, link)  # the owner's: the address it replaces hears of it
    for row in outbox(app):
        documents.add(f"mail {row.subject} to {row.to_address}", row.body_html)
    documents.add(f"undo done ({undone.status_code})",
                  client.get(undone.location or link, follow_redirects=True).get_data(as_text=True))
    visit(client, documents, link, resend_forms=False)  # spent
    refused = prove_bill(app, client)
    documents.add(f"recovery by bill after an undo ({refused.status_code})",
                  refused.get_data(as_text=True))
    check(documents)
