"""Rows a test reads back after a request: the mail outbox and the audit trail, in the order
they were written, detached from the session so they can be read outside the app context."""

from __future__ import annotations

from sqlalchemy import select

from ov.extensions import db
from ov.models import AuditEvent, OutboxMail


def _detached(app, query) -> list:
    with app.app_context():
        rows = list(db.session.scalars(query))
        for row in rows:
            db.session.expunge(row)
        return rows


def outbox(app) -> list[OutboxMail]:
    return _detached(app, select(OutboxMail).order_by(OutboxMail.id))


def events(app, kind: str) -> list[AuditEvent]:
    return _detached(app, select(AuditEvent).where(AuditEvent.kind == kind)
                     .order_by(AuditEvent.id))
