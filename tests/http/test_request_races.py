"""Customers filing requests at the same moment (several tabs, many customers): each gets its
own folio. Barriers, no clocks; the ``postgres`` variant runs the inserts truly at once on
PostgreSQL, where the folio comes from the row id its sequence gave."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ov.extensions import db
from ov.models import ServiceRequest
from ov.services import service_requests as service
from tests.http.test_privacy_races import BACKENDS, run_together
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")
FILERS = 8


@pytest.mark.parametrize("backend", BACKENDS)
def test_requests_filed_at_once_get_distinct_folios(app, backend):
    with app.app_context():
        people = [make_customer(username=f"cliente{n:03d}x", email=f"c{n}@ejemplo.mx",
                                number=str(5550000 + n)) for n in range(FILERS // 2)]
        db.session.commit()
        # Two at once on each contract: the same customer's two tabs, and their neighbours.
        pairs = [(user.id, account.id) for user, account in people for _ in range(2)]

    def filing(user_id, account_id):
        def job():
            return service.file_request(user_id, account_id, "bill_clarification",
                                        "Me cobraron dos veces el cargo fijo.").folio
        return job

    folios = run_together(app, *(filing(*pair) for pair in pairs))
    assert len(folios) == FILERS
    assert len(set(folios)) == FILERS
    assert all(re.fullmatch(r"SR-\d{4}-\d{6}", folio) for folio in folios)
    with app.app_context():
        stored = list(db.session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))
        assert sorted(folios) == sorted(row.folio for row in stored)
        assert all(row.folio == service.folio_for(row) for row in stored)
        assert all(len(row.events) == 1 for row in stored)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_request_sent_twice_at_once_is_filed_once(app, backend):
    with app.app_context():
        user, account = make_customer()
        db.session.commit()
        user_id, account_id = user.id, account.id

    def send():
        text = "Me cobraron dos veces el cargo fijo."
        earlier = service.same_request(user_id, account_id, "other", text, invoice_id=None)
        if earlier is not None:
            return earlier.folio
        return service.file_request(user_id, account_id, "other", text).folio

    folios = run_together(app, send, send)
    with app.app_context():
        stored = list(db.session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))
    assert len(stored) == 1
    assert folios == [stored[0].folio, stored[0].folio]
