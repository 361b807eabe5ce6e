"""Spent single-use values (CAPTCHA form tokens and vendor responses).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "used_nonce",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_used_nonce")),
    )
    with op.batch_alter_table("used_nonce", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_nonce_expires_at"), ["expires_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("used_nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_nonce_expires_at"))
    op.drop_table("used_nonce")
