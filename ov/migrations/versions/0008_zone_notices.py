"""Zone-wide service notices, shown while current; event notices made once per kind and key.

Revision ID: 0008_zone_notices
Revises: 0007_contract_alias
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_zone_notices"
down_revision = "0007_contract_alias"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "zone_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.SmallInteger(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at >= starts_at", name=op.f("ck_zone_notice_ends_after_start")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_zone_notice_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_notice")),
    )
    with op.batch_alter_table("zone_notice", schema=None) as batch_op:
        batch_op.create_index("ix_zone_notice_ends_at", ["ends_at"], unique=False)
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            op.f("uq_notice_user_id_kind_key"), ["user_id", "kind", "key"]
        )


def downgrade():
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_notice_user_id_kind_key"), type_="unique")
        batch_op.drop_column("key")
        batch_op.drop_column("kind")
    with op.batch_alter_table("zone_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_zone_notice_ends_at")
    op.drop_table("zone_notice")
