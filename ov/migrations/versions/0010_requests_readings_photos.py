"""Mis consumos and Mis solicitudes made self-service: customer requests and claims with
their type, bill, answer date and photo; meter readings with a photo; who wrote each step
of a request's timeline; and the photos themselves.

Revision ID: 0010_requests_readings_photos
Revises: 0009_self_service
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_requests_readings_photos"
down_revision = "0009_self_service"
branch_labels = None
depends_on = None

AUTHORS = "author IN ('portal', 'customer', 'staff')"


def upgrade():
    op.create_table(
        "photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("width", sa.SmallInteger(), nullable=False),
        sa.Column("height", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("byte_size > 0", name=op.f("ck_photo_byte_size_positive")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"],
                                name=op.f("fk_photo_account_id_account")),
        sa.ForeignKeyConstraint(["user_id"], ["portal_user.id"],
                                name=op.f("fk_photo_user_id_portal_user"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_photo_stored_name")),
    )
    with op.batch_alter_table("photo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_photo_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("reading_submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invoice_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("photo_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("confirmed", sa.String(length=10), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_reading_submission_photo_id_photo"), "photo",
                                    ["photo_id"], ["id"], ondelete="SET NULL")
        batch_op.create_foreign_key(batch_op.f("fk_reading_submission_invoice_id_invoice"),
                                    "invoice", ["invoice_id"], ["id"])

    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("invoice_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("answer_due_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("photo_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_service_request_invoice_id"), ["invoice_id"],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_service_request_invoice_id_invoice"),
                                    "invoice", ["invoice_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_service_request_photo_id_photo"), "photo",
                                    ["photo_id"], ["id"], ondelete="SET NULL")

    # Until now the portal wrote each request's first step and staff every later one.
    with op.batch_alter_table("service_request_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author", sa.String(length=10), nullable=False,
                                      server_default="portal"))
    events = sa.table("service_request_event", sa.column("status", sa.String()),
                      sa.column("author", sa.String()))
    op.execute(events.update().where(events.c.status != "received").values(author="staff"))
    with op.batch_alter_table("service_request_event", schema=None) as batch_op:
        batch_op.alter_column("author", server_default=None)
        batch_op.create_check_constraint(op.f("ck_service_request_event_author_values"),
                                         sa.text(AUTHORS))


def downgrade():
    with op.batch_alter_table("service_request_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_service_request_event_author_values"), type_="check")
        batch_op.drop_column("author")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_service_request_photo_id_photo"),
                                 type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_service_request_invoice_id_invoice"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_service_request_invoice_id"))
        batch_op.drop_column("photo_id")
        batch_op.drop_column("answer_due_on")
        batch_op.drop_column("invoice_id")
        batch_op.drop_column("category")
    with op.batch_alter_table("reading_submission", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_reading_submission_invoice_id_invoice"),
                                 type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_reading_submission_photo_id_photo"),
                                 type_="foreignkey")
        batch_op.drop_column("confirmed")
        batch_op.drop_column("photo_id")
        batch_op.drop_column("invoice_id")
    with op.batch_alter_table("photo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photo_user_id"))
    op.drop_table("photo")
