"""An address a user had once may be another user's now: the download does not show that
other user's mails, and the purge of the first user does not delete them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import OutboxMail, User, utcnow
from ov.services import privacy
from tests.http.test_office_privacy import post, text
from tests.http.test_recovery_by_bill import age_changes, link_in
from tests.support.factories import make_customer
from tests.support.journeys import PASSWORD, Registration, hidden, sign_in
from tests.support.rows import outbox

pytestmark = pytest.mark.usefixtures("billing")

OLD = "correo@electronico.es"  # the address Registration gives the seed's customer
NEW = "nuevo.correo@ejemplo.mx"
DOWNLOAD = "/mi-oficina/datos/mis-datos.json"


@pytest.fixture
def customer(app, client):
    """The seed's customer, who moved from OLD to NEW more than OV_UNDO_LINK_DAYS ago (the
    change is closed, so OLD is free for anyone)."""
    assert Registration(client, app).complete().status_code == 303
    assert sign_in(client, "usuPDFactura1").status_code == 303
    assert post(client, "/mi-oficina/datos/correo", correo=NEW, correo2=NEW).status_code == 303
    link = link_in(app, NEW, "confirmar-correo")
    tab = app.test_client()
    assert tab.post(link, data={"csrf_token": hidden(text(tab.get(link)), "csrf_token")}
                    ).status_code == 303
    age_changes(app, days=app.config["OV_UNDO_LINK_DAYS"] + 1)
    return client


def someone_takes(app, how: str) -> None:
    """Another user gets OLD (in other letter case) as ``how``: their current address, the
    one waiting for their link, or the current address of a user cancelled since."""
    with app.app_context():
        other, _ = make_customer(username="otraPersona22", email="otra.persona@ejemplo.mx",
                                 number="99999901")
        if how == "pending":
            other.pending_email, other.pending_email_at = OLD.upper(), utcnow()
        else:
            other.email = "Correo@Electronico.ES"
        if how == "blocked":
            other.blocked_at = utcnow()
        db.session.add(OutboxMail(to_address=OLD.upper(), subject="Para otra persona",
                                  body_text="x"))
        db.session.commit()


def mails_to_old(app) -> list[str]:
    return [m.subject for m in outbox(app) if m.to_address.casefold() == OLD]


@pytest.mark.parametrize("how", ["current", "pending"])
def test_an_old_address_another_user_holds_now_is_left_out_of_download_and_purge(
        app, customer, how):
    someone_takes(app, how)
    data = json.loads(customer.get(DOWNLOAD).get_data())
    shown = {m["a"].casefold() for m in data["correos_enviados"]}
    assert NEW in shown and OLD not in shown
    with app.app_context():  # the summary counts the same mails
        mine = db.session.scalars(select(User.id).where(User.username == "usuPDFactura1")).one()
        assert privacy.counts(mine)["correos_enviados"] == len(data["correos_enviados"])
    before = mails_to_old(app)
    assert "Para otra persona" in before and len(before) > 1
    assert post(customer, "/mi-oficina/datos/cancelar", contrasena=PASSWORD).status_code == 303
    with app.app_context():
        assert privacy.purge_cancelled(now=utcnow() + timedelta(days=31)) == 1
        db.session.commit()
    assert mails_to_old(app) == before
    assert [m for m in outbox(app) if m.to_address == NEW] == []


def test_an_old_address_of_a_blocked_user_stays_the_first_users(app, customer):
    someone_takes(app, "blocked")
    data = json.loads(customer.get(DOWNLOAD).get_data())
    assert OLD in {m["a"].casefold() for m in data["correos_enviados"]}
    assert post(customer, "/mi-oficina/datos/cancelar", contrasena=PASSWORD).status_code == 303
    with app.app_context():
        purged = privacy.purge_cancelled(now=utcnow() + timedelta(days=31))
        db.session.commit()
        assert purged == 1
        left = db.session.scalars(select(User.username)).all()
    assert left == ["otraPersona22"]
    assert mails_to_old(app) == []
