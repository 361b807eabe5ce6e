"""The billing import: business keys for readings and payments, the estimated reading a
corrected bill replaces, and a record of each import.

Revision ID: 0012_billing_import
Revises: 0011_reading_review_note
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_billing_import"
down_revision = "0011_reading_review_note"
branch_labels = None
depends_on = None


def upgrade():
    # One reading per contract and day, one payment per contract, channel and reference:
    # the keys an export is matched by.
    op.drop_index("ix_reading_account_read_on", table_name="reading")
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_reading_account_id_read_on"), ["account_id", "read_on"])
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_payment_account_id_channel_reference"),
            ["account_id", "channel", "reference"])
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaces_reading_on", sa.Date(), nullable=True))
    op.create_table(
        "import_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_run")),
    )


def downgrade():
    op.drop_table("import_run")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("replaces_reading_on")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_payment_account_id_channel_reference"), type_="unique")
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_reading_account_id_read_on"), type_="unique")
    op.create_index("ix_reading_account_read_on", "reading", ["account_id", "read_on"],
                    unique=False)
