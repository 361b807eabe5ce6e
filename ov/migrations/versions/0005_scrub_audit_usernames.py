"""Typed usernames that match no user leave the audit table readable no more.

Failed logins for an unknown username used to keep the typed text, case-folded, in
``details.username_key``; customers type passwords into that field too. It becomes the keyed
hash the sign-in writes today (``username_hash``), so old and new attempts still correlate.
Done in Python over batches of rows: JSON functions differ between SQLite and PostgreSQL.

Revision ID: 0005_scrub_audit_usernames
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_scrub_audit_usernames"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 500

audit_event = sa.table(
    "audit_event",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("user_id", sa.Integer),
    sa.column("details", sa.JSON),
)


def _hashed(typed: str) -> str:
    # The formula of ov.services.auth.audit_username at this revision (the app's secret key).
    from ov.services import tokens

    return tokens.fingerprint("audit-username:" + typed)


def upgrade():
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(audit_event.c.id, audit_event.c.details)
            .where(
                audit_event.c.kind == "login_failed",
                audit_event.c.user_id.is_(None),
                audit_event.c.id > last_id,
            )
            .order_by(audit_event.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            details = row.details
            if not isinstance(details, dict) or "username_key" not in details:
                continue
            kept = {key: value for key, value in details.items() if key != "username_key"}
            typed = details["username_key"]
            if isinstance(typed, str) and "username_hash" not in kept:
                kept["username_hash"] = _hashed(typed)
            connection.execute(
                sa.update(audit_event).where(audit_event.c.id == row.id).values(details=kept)
            )
        last_id = rows[-1].id


def downgrade():
    pass  # the typed text is gone on purpose: nothing to put back
