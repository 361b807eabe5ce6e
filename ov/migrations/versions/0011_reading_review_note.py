"""The note staff write when they review a reading a customer sent, shown to the customer
with the outcome.

Revision ID: 0011_reading_review_note
Revises: 0010_requests_readings_photos
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_reading_review_note"
down_revision = "0010_requests_readings_photos"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reading_submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_note", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("reading_submission", schema=None) as batch_op:
        batch_op.drop_column("review_note")
