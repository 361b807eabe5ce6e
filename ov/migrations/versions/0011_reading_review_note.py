"""The note staff write when they review a reading a customer sent, shown to the customer
with the outcome; and where in Mi oficina a notice leads.

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
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("link_label", sa.String(length=60), nullable=True))


def downgrade():
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_column("link_label")
        batch_op.drop_column("link")
    with op.batch_alter_table("reading_submission", schema=None) as batch_op:
        batch_op.drop_column("review_note")
