"""Migration 0005: typed usernames stored readable by older versions leave the audit table."""

from __future__ import annotations

import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import JSON, column, insert, select, table

from ov.extensions import db
from ov.models import AuditEvent
from ov.services import auth
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")

audit_event = table("audit_event", column("id"), column("at"), column("kind"),
                    column("user_id"), column("client_address"), column("details", JSON))


def test_old_failed_logins_lose_the_typed_username_and_nothing_else_changes(app):
    with app.app_context():
        user, _account = make_customer()
        db.session.commit()
        user_id = user.id  # read now: after the downgrade the row lacks newer columns
        downgrade(revision="0004")
        rows = [  # as versions before the keyed hash wrote them
            ("login_failed", None, {"reason": "unknown", "username_key": "secreto2024"}),
            ("login_failed", None, {"reason": "unknown", "username_key": "otrotexto99"}),
            ("login_failed", None, {"reason": "unknown", "username_valid": False}),
            ("login_failed", user_id, {"reason": "password", "failures": 1}),
            ("login_failed", user_id, {"reason": "password", "username_key": "usupdfactura1"}),
            ("registration_started", None, {"username_key": "dejalo"}),
        ]
        at = "2026-11-30 10:00:00"
        with db.engine.begin() as connection:
            for kind, user_id, details in rows:
                connection.execute(insert(audit_event).values(
                    at=at, kind=kind, user_id=user_id, client_address="10.0.0.1",
                    details=details))
        upgrade()
        db.session.remove()
        found = [(e.kind, e.user_id, e.details, e.client_address) for e in db.session.scalars(
            select(AuditEvent).order_by(AuditEvent.id))]
        expected_hash = auth.audit_username("Secreto2024")["username_hash"]
    assert len(found) == len(rows)
    stored = json.dumps([row[2] for row in found[:2]])
    assert "secreto2024" not in stored and "otrotexto99" not in stored
    # Still correlated with newer attempts: the same keyed hash the sign-in writes today.
    assert found[0][2] == {"reason": "unknown", "username_hash": expected_hash}
    assert found[1][2]["username_hash"] != expected_hash
    untouched = [(kind, user_id, details, "10.0.0.1") for kind, user_id, details in rows[2:]]
    assert found[2:] == untouched
