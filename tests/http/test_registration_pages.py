"""The registration pages as markup: ids, labels, the order text browsers read, defaults."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest

from tests.support.journeys import Registration

pytestmark = pytest.mark.usefixtures("billing")


class Markup(HTMLParser):
    """What the tests below read from a page: ids, label targets, references, and the
    form controls in document order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.label_targets: list[str] = []
        self.references: list[str] = []
        self.controls: list[dict] = []
        self._button: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs) -> None:
        found = dict(attrs)
        if "id" in found:
            self.ids.append(found["id"])
        if tag == "label" and "for" in found:
            self.label_targets.append(found["for"])
        for name in ("aria-describedby", "aria-labelledby", "aria-controls"):
            self.references.extend((found.get(name) or "").split())
        if tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.controls.append({"tag": tag, **found})
        if tag == "button":
            self._button = {"tag": tag, "text": "", **found}
            self.controls.append(self._button)

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None


def pages_in_every_state(app, monkeypatch) -> dict[str, str]:
    """Each registration page, and each answer a step can give (errors included)."""
    # One new username per draft, so that the second one tried gets the limited answer.
    monkeypatch.setitem(app.config, "OV_REGISTRATION_USERNAME_DRAFT_LIMIT", "1 per hour")
    reg = Registration(app.test_client(), app)
    html = {}

    def keep(name: str, response, status: int) -> None:
        assert response.status_code == status, name
        html[name] = response.get_data(as_text=True)

    keep("paso 1", reg.client.get("/registro/paso-1"), 200)
    keep("paso 1, datos que faltan", reg.step1(zona="", cuenta="", factura=""), 422)
    keep("paso 1, factura que no coincide", reg.step1(factura="ZE00000000"), 422)
    keep("instructivo desde el registro",
         reg.client.get("/ayuda/factura?desde=registro"), 200)
    assert reg.step1().status_code == 303
    keep("paso 2", reg.client.get("/registro/paso-2"), 200)
    keep("paso 2, errores", reg.step2(usuario="ab", contrasena2="otra", correo2="x@y.mx"), 422)
    assert reg.step2().status_code == 303
    keep("paso 2, contraseña guardada", reg.client.get("/registro/paso-2"), 200)
    keep("paso 2, demasiados nombres probados", reg.step2(usuario="otroNombre01"), 429)
    keep("paso 3", reg.client.get("/registro/paso-3"), 200)
    keep("paso 3, aviso legal sin aceptar", reg.step3(acepto=""), 422)
    assert reg.step3().status_code == 303
    keep("listo", reg.client.get("/registro/listo"), 200)
    other = Registration(app.test_client(), app)
    keep("contrato ya registrado", other.step1(), 409)
    return html


def test_every_registration_page_and_state_has_unique_ids_that_labels_point_to(app,
                                                                             monkeypatch):
    for name, html in pages_in_every_state(app, monkeypatch).items():
        page = Markup(html)
        repeated = [i for i, n in Counter(page.ids).items() if n > 1]
        assert not repeated, f"{name}: repeated ids {repeated}"
        missing = set(page.label_targets + page.references) - set(page.ids)
        assert not missing, f"{name}: labels or references to no element: {missing}"


def test_every_error_is_shown_once_beside_its_field(app, monkeypatch):
    for name, html in pages_in_every_state(app, monkeypatch).items():
        invalid = html.count('aria-invalid="true"')
        assert html.count('<span class="field-error">') == invalid, name


def test_the_notices_checkbox_has_its_own_id_and_its_label(app):
    reg = Registration(app.test_client(), app)
    reg.step1()
    reg.step2()
    page = Markup(reg.client.get("/registro/paso-3").get_data(as_text=True))
    boxes = [c for c in page.controls if c.get("type") == "checkbox"]
    assert [b["name"] for b in boxes] == ["factura_electronica", "avisos", "acepto"]
    for box in boxes:
        assert page.ids.count(box["id"]) == 1 and box["id"] in page.label_targets


def test_consent_boxes_start_unticked(app):
    reg = Registration(app.test_client(), app)
    reg.step1()
    reg.step2()
    page = Markup(reg.client.get("/registro/paso-3").get_data(as_text=True))
    boxes = [c for c in page.controls if c.get("type") == "checkbox"]
    assert boxes and not [b["name"] for b in boxes if "checked" in b]


def test_step3_says_which_fields_are_required(app):
    reg = Registration(app.test_client(), app)
    reg.step1()
    reg.step2()
    html = reg.client.get("/registro/paso-3").get_data(as_text=True)
    assert '<span aria-hidden="true">(*)</span> Campos obligatorios' in html


def test_step1_puts_the_fields_first_and_enter_still_means_continuar(client):
    """A text browser reads the page in source order, and Enter in a field submits with the
    form's first submit button: both must meet the three fields, then "Continuar"."""
    page = Markup(client.get("/registro/paso-1").get_data(as_text=True))
    form_controls = [c for c in page.controls if c.get("name") != "comentarios"][:6]
    names = [c.get("name") or c.get("value") or c["text"].strip() for c in form_controls]
    assert names[:3] == ["zona", "cuenta", "factura"], names
    first_submit = next(c for c in page.controls
                        if c["tag"] == "button" and c.get("type") == "submit")
    assert first_submit["text"].strip() == "Continuar" and "name" not in first_submit


def test_the_invoice_field_swapped_by_inline_validation_keeps_that_order(app, client,
                                                                         htmx_headers):
    reg = Registration(client, app)
    token = reg.token("/registro/paso-1")
    html = client.post("/registro/validar/factura", data={"csrf_token": token, "factura": "ab"},
                       headers=htmx_headers).get_data(as_text=True)
    page = Markup(html)
    order = [c.get("name") or c["text"].strip() for c in page.controls]
    assert order[0] == "factura" and order[1] == "Continuar" and order[2] == "accion", order


def test_step2_offers_show_password_on_both_password_fields(app):
    reg = Registration(app.test_client(), app)
    reg.step1()
    page = Markup(reg.client.get("/registro/paso-2").get_data(as_text=True))
    marked = [c["name"] for c in page.controls if "data-ver-contrasena" in c]
    assert marked == ["contrasena", "contrasena2"]


def test_after_resending_the_confirmation_the_page_says_it_once(app):
    """The notice asking to confirm the email and the answer to "Reenviar el correo" are
    one message, not two saying the same beside each other."""
    from tests.support.journeys import hidden, sign_in

    reg = Registration(app.test_client(), app)
    assert reg.complete().status_code == 303
    assert sign_in(reg.client, "usuPDFactura1").status_code == 303
    before = reg.client.get("/mi-oficina").get_data(as_text=True)
    assert before.count("correo@electronico.es") == 1 and "Reenviar el correo" in before
    sent = reg.client.post("/mi-oficina/reenviar-confirmacion",
                           data={"csrf_token": hidden(before, "csrf_token"),
                                 "next": "/mi-oficina"})
    assert sent.status_code == 303
    after = reg.client.get(sent.location).get_data(as_text=True)
    assert after.count("correo@electronico.es") == 1, "the address is said twice"
    assert after.count("enviamos") == 1
    assert "Te enviamos un correo nuevo" in after and "Reenviar el correo" in after
    assert 'role="status"' in after  # still announced as the answer to the button
    again = reg.client.get("/mi-oficina").get_data(as_text=True)
    assert "Te enviamos un correo nuevo" not in again  # said once, then the usual notice
