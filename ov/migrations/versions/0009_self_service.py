"""Mis datos made self-service: phone, ending the other sessions, email notices per kind,
the printed bill's format, cancelled users blocked until deleted, and privacy (ARCO)
requests with their folio.

Revision ID: 0009_self_service
Revises: 0008_zone_notices
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_self_service"
down_revision = "0008_zone_notices"
branch_labels = None
depends_on = None

OPEN_TOPIC = "topic IS NOT NULL AND status IN ('received', 'in_progress')"
NOTICE_KINDS = ("notify_invoice", "notify_payment", "notify_request", "notify_reading")


def upgrade():
    op.create_table(
        "privacy_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folio", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=15), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer_due_on", sa.Date(), nullable=False),
        sa.Column("carry_out_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.CheckConstraint(
            "kind IN ('rectificacion', 'oposicion', 'cancelacion')",
            name=op.f("ck_privacy_request_kind_values"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["portal_user.id"],
            name=op.f("fk_privacy_request_user_id_portal_user"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_request")),
        sa.UniqueConstraint("folio", name=op.f("uq_privacy_request_folio")),
    )
    with op.batch_alter_table("privacy_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_request_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("portal_user", schema=None) as batch_op:
        for name in NOTICE_KINDS:
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true())
            )
        batch_op.add_column(
            sa.Column("email_key", sa.String(length=254), nullable=False, server_default="")
        )
        batch_op.create_index(batch_op.f("ix_portal_user_email_key"), ["email_key"], unique=False)
        batch_op.add_column(sa.Column("phone", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column("sessions_ended_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delete_after", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_portal_user_delete_after"), ["delete_after"], unique=False
        )
    # Each kind starts from the one choice registration asked for.
    user = sa.table("portal_user", sa.column("email_notices", sa.Boolean()),
                    *(sa.column(name, sa.Boolean()) for name in NOTICE_KINDS))
    op.execute(user.update().values({name: user.c.email_notices for name in NOTICE_KINDS}))
    # The folded address, as Python folds it (SQL's lower() leaves "É" alone on SQLite).
    addresses = sa.table("portal_user", sa.column("id", sa.Integer()),
                         sa.column("email", sa.String()), sa.column("email_key", sa.String()))
    connection = op.get_bind()
    for row in connection.execute(sa.select(addresses.c.id, addresses.c.email)).all():
        connection.execute(addresses.update().where(addresses.c.id == row.id)
                           .values(email_key=row.email.strip().casefold()))
    with op.batch_alter_table("portal_user", schema=None) as batch_op:
        batch_op.alter_column("email_key", server_default=None)

    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.String(length=30), nullable=True))
        batch_op.create_index(
            "ux_service_request_open_topic", ["account_id", "topic"], unique=True,
            sqlite_where=sa.text(OPEN_TOPIC), postgresql_where=sa.text(OPEN_TOPIC),
        )

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bill_format", sa.String(length=12), nullable=False,
                      server_default="normal")
        )


def downgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("bill_format")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index("ux_service_request_open_topic")
        batch_op.drop_column("detail")
        batch_op.drop_column("topic")
    with op.batch_alter_table("portal_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_user_delete_after"))
        batch_op.drop_column("delete_after")
        batch_op.drop_column("blocked_at")
        batch_op.drop_column("sessions_ended_at")
        batch_op.drop_column("phone")
        batch_op.drop_index(batch_op.f("ix_portal_user_email_key"))
        batch_op.drop_column("email_key")
        for name in reversed(NOTICE_KINDS):
            batch_op.drop_column(name)
    with op.batch_alter_table("privacy_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_request_user_id"))
    op.drop_table("privacy_request")
