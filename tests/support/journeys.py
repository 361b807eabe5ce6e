"""The seed guide's registration, step by step, as a test client drives it (no JavaScript)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from ov.extensions import db
from ov.models import Zone

SEED = {"zone": "Nuevo Laredo", "account": "8295249", "invoice": "ZE40389382"}
PASSWORD = "Tq7mZ2pLx9"


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def zone_id(app, name: str = SEED["zone"]) -> int:
    with app.app_context():
        return db.session.scalar(select(Zone.id).where(Zone.name == name))


@dataclass
class Registration:
    client: object
    app: object

    def step1_form(self, **answers) -> dict:
        page = self.client.get("/registro/paso-1").get_data(as_text=True)
        form = {
            "csrf_token": hidden(page, "csrf_token"),
            "captcha_token": hidden(page, "captcha_token"),
            "comentarios": "",
            "zona": str(zone_id(self.app)),
            "cuenta": SEED["account"],
            "factura": SEED["invoice"],
        }
        form.update(answers)
        return form

    def step1(self, headers=None, **answers):
        return self.client.post("/registro/paso-1", data=self.step1_form(**answers),
                                headers=headers or {})

    def token(self, url: str) -> str:
        return hidden(self.client.get(url).get_data(as_text=True), "csrf_token")

    def step2(self, headers=None, **answers):
        form = {
            "csrf_token": self.token("/registro/paso-2"),
            "usuario": "usuPDFactura1",
            "contrasena": PASSWORD,
            "contrasena2": PASSWORD,
            "correo": "correo@electronico.es",
            "correo2": "correo@electronico.es",
        }
        form.update(answers)
        return self.client.post("/registro/paso-2", data=form, headers=headers or {})

    def step3(self, headers=None, **answers):
        form = {"csrf_token": self.token("/registro/paso-3"), "acepto": "y",
                "factura_electronica": "y"}
        form.update(answers)
        return self.client.post("/registro/paso-3", data=form, headers=headers or {})

    def complete(self, **step2):
        assert self.step1().status_code == 303
        assert self.step2(**step2).status_code == 303
        return self.step3()


def sign_in(client, username: str, password: str = PASSWORD):
    """Log in through /entrar as a customer would; returns the response to the POST."""
    token = hidden(client.get("/entrar").get_data(as_text=True), "csrf_token")
    return client.post(
        "/entrar", data={"csrf_token": token, "usuario": username, "contrasena": password}
    )
