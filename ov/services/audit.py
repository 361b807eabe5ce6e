"""The audit trail: security events in a table, never raw customer input or secrets."""

from __future__ import annotations

from typing import Any

from ov.addresses import valid_address
from ov.extensions import db
from ov.models import AuditEvent


def record(
    kind: str, *, user_id: int | None = None, client_address: str | None = None, **details: Any
) -> AuditEvent:
    """Add an event to the current transaction (the caller commits with its own work)."""
    event = AuditEvent(
        kind=kind,
        user_id=user_id,
        client_address=valid_address(client_address),  # an IP address or nothing
        details={key: value for key, value in details.items() if value is not None},
    )
    db.session.add(event)
    return event
