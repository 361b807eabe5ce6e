"""Pending email addresses and undoable account changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("portal_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_email", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("pending_email_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "account_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("notified_email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_account_change_user_id_portal_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_change")),
    )
    with op.batch_alter_table("account_change", schema=None) as batch_op:
        batch_op.create_index("ix_account_change_user_spent", ["user_id", "spent_at"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("account_change", schema=None) as batch_op:
        batch_op.drop_index("ix_account_change_user_spent")
    op.drop_table("account_change")
    with op.batch_alter_table("portal_user", schema=None) as batch_op:
        batch_op.drop_column("pending_email_at")
        batch_op.drop_column("pending_email")
