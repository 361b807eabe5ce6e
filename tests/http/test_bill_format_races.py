"""A bill-format request racing the contract leaving its user (a cancellation, "Quitar"):
the request is not filed on a contract nobody holds, the answer is the 404 of a contract
that is not the user's, never a 500, and the contract's next holder can ask for a format."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import Account, User, UserAccount
from ov.services import contracts, privacy, service_requests
from tests.http.test_privacy_cancel_guards import ask_braille, contract_id, open_topic_requests
from tests.support.journeys import Registration, hidden, sign_in

pytestmark = pytest.mark.usefixtures("billing")


@pytest.fixture
def customer(app, client):
    assert Registration(client, app).complete().status_code == 303
    assert sign_in(client, "usuPDFactura1").status_code == 303
    return client


def leave_then_lock(monkeypatch, app, leave):
    """Make the contract leave its user (in another session) just before the request takes
    its turn: after the page checked the link, before the request is filed."""
    original = service_requests.take_turns

    def racing(user_id):
        monkeypatch.setattr(service_requests, "take_turns", original)
        with app.app_context():
            leave(user_id)
            db.session.commit()
        original(user_id)

    monkeypatch.setattr(service_requests, "take_turns", racing)


def ask(client, account_id):
    page = client.get("/mi-oficina/datos/preferencias").get_data(as_text=True)
    return client.post(f"/mi-oficina/datos/preferencias/formato/{account_id}", data={
        "csrf_token": hidden(page, "csrf_token"), f"contrato{account_id}-formato": "braille"})


def test_a_request_racing_a_cancellation_is_not_filed_and_the_next_holder_can_ask(
        app, customer, monkeypatch):
    account_id = contract_id(app)

    def cancel(user_id):
        assert isinstance(privacy.cancel(db.session.get(User, user_id), client_address=None),
                          privacy.Cancelled)

    leave_then_lock(monkeypatch, app, cancel)
    assert ask(customer, account_id).status_code in (302, 404)  # signed out, or not theirs
    assert open_topic_requests(app) == []
    other = app.test_client()
    journey = Registration(other, app)
    assert journey.step1().status_code == 303
    assert journey.step2(usuario="usuNuevo2", correo="nuevo@ejemplo.mx",
                         correo2="nuevo@ejemplo.mx").status_code == 303
    assert journey.step3().status_code == 303
    assert sign_in(other, "usuNuevo2").status_code == 303
    assert ask_braille(app, other).status_code == 303
    with app.app_context():
        new_holder = db.session.scalars(select(User.id).where(User.username == "usuNuevo2")).one()
    assert [row.user_id for row in open_topic_requests(app)] == [new_holder]


def test_a_request_racing_the_removal_of_its_contract_answers_404(app, customer, monkeypatch):
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        second = db.session.scalars(
            select(Account).where(Account.id != contract_id(app)).order_by(Account.id)).first()
        db.session.add(UserAccount(user_id=user.id, account_id=second.id))
        db.session.commit()
        second_id = second.id

    def remove(user_id):
        assert contracts.remove(user_id, second_id, client_address=None) \
            == contracts.Removal.REMOVED

    leave_then_lock(monkeypatch, app, remove)
    assert ask(customer, second_id).status_code == 404
    assert open_topic_requests(app) == []


def test_a_former_holders_request_left_open_is_closed_when_the_new_holder_asks(app, customer):
    """Rows from before open requests were closed with their contract: the new holder's
    request closes the old one (in its timeline) instead of failing on the open-request
    index."""
    account_id = contract_id(app)
    with app.app_context():
        holder = db.session.scalars(select(User)).one()
        former = User(username="usuAntiguo1", password_hash="x", email="antes@ejemplo.mx")
        db.session.add(former)
        db.session.flush()
        link = db.session.scalars(select(UserAccount)).one()
        stale = service_requests.ask_bill_format(link, "letra_grande", client_address=None)
        stale.request.user_id = former.id  # as if the former holder had asked
        db.session.commit()
        stale_folio = stale.request.folio
        holder_id = holder.id
        assert holder_id != former.id
    assert ask(customer, account_id).status_code == 303
    rows = open_topic_requests(app)
    assert [(row.user_id, row.detail) for row in rows] == [(holder_id, "braille")]
    with app.app_context():
        from ov.models import ServiceRequest

        old = db.session.scalars(select(ServiceRequest)
                                 .where(ServiceRequest.folio == stale_folio)).one()
        assert old.status == "closed"
        assert "otro usuario" in old.events[-1].note
