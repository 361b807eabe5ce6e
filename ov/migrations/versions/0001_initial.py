"""Initial schema: the billing mirror and the portal tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # Billing mirror
    op.create_table(
        "zone",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("cities", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("code", name=op.f("uq_zone_code")),
        sa.UniqueConstraint("name", name=op.f("uq_zone_name")),
    )

    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.SmallInteger(), nullable=False),
        sa.Column("number", sa.String(length=8), nullable=False),
        sa.Column("check_digit", sa.SmallInteger(), nullable=False),
        sa.Column("holder_name", sa.String(length=120), nullable=False),
        sa.Column("street", sa.String(length=120), nullable=False),
        sa.Column("street_number", sa.String(length=20), nullable=False),
        sa.Column("colonia", sa.String(length=80), nullable=False),
        sa.Column("city", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=60), nullable=False),
        sa.Column("postal_code", sa.String(length=5), nullable=False),
        sa.Column("meter_serial", sa.String(length=20), nullable=False),
        sa.Column("tariff_code", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'inactive')", name=op.f("ck_account_status_values")
        ),
        sa.CheckConstraint(
            "check_digit BETWEEN 0 AND 9", name=op.f("ck_account_check_digit_range")
        ),
        sa.CheckConstraint("length(number) BETWEEN 1 AND 8", name=op.f("ck_account_number_length")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_account_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("zone_id", "number", name=op.f("uq_account_zone_id_number")),
    )

    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.SmallInteger(), nullable=False),
        sa.Column("number", sa.String(length=10), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("previous_reading", sa.Integer(), nullable=False),
        sa.Column("current_reading", sa.Integer(), nullable=False),
        sa.Column("reading_type", sa.String(length=10), nullable=False),
        sa.Column("consumption_m3", sa.Integer(), nullable=False),
        sa.Column("subtotal", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("tax", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cfdi_xml", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "reading_type IN ('real', 'estimated', 'customer')",
            name=op.f("ck_invoice_reading_type_values"),
        ),
        sa.CheckConstraint("consumption_m3 >= 0", name=op.f("ck_invoice_consumption_not_negative")),
        sa.CheckConstraint("length(number) = 10", name=op.f("ck_invoice_number_length")),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_invoice_period_order")),
        sa.CheckConstraint(
            "subtotal >= 0 AND tax >= 0 AND total >= 0",
            name=op.f("ck_invoice_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_invoice_account_id_account")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_invoice_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
        sa.UniqueConstraint("zone_id", "number", name=op.f("uq_invoice_zone_id_number")),
    )
    op.create_index(
        "ix_invoice_account_issue",
        "invoice",
        ["account_id", sa.literal_column("issue_date DESC")],
        unique=False,
    )

    op.create_table(
        "invoice_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("concept", sa.String(length=120), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("unit", sa.String(length=12), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_invoice_line_amount_not_negative")),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_invoice_line_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_invoice_line_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_line")),
        sa.UniqueConstraint(
            "invoice_id", "position", name=op.f("uq_invoice_line_invoice_id_position")
        ),
    )

    op.create_table(
        "reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("read_on", sa.Date(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("reading_type", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "reading_type IN ('real', 'estimated', 'customer')",
            name=op.f("ck_reading_reading_type_values"),
        ),
        sa.CheckConstraint("value >= 0", name=op.f("ck_reading_value_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_reading_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading")),
    )
    op.create_index(
        "ix_reading_account_read_on", "reading", ["account_id", "read_on"], unique=False
    )

    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("channel_name", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.CheckConstraint(
            "channel IN ('bank', 'store', 'transfer')", name=op.f("ck_payment_channel_values")
        ),
        sa.CheckConstraint(
            "status IN ('applied', 'in_process')", name=op.f("ck_payment_status_values")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_payment_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_payment_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_payment_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
    )
    op.create_index(
        "ix_payment_account_paid_on", "payment", ["account_id", "paid_on"], unique=False
    )
    op.create_index(op.f("ix_payment_invoice_id"), "payment", ["invoice_id"], unique=False)

    # Portal
    op.create_table(
        "portal_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=25), nullable=False),
        sa.Column("username_key", sa.String(length=25), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paperless_bill", sa.Boolean(), nullable=False),
        sa.Column("email_notices", sa.Boolean(), nullable=False),
        sa.Column("legal_version_accepted", sa.String(length=20), nullable=True),
        sa.Column("legal_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "failed_logins >= 0", name=op.f("ck_portal_user_failed_logins_not_negative")
        ),
        sa.CheckConstraint(
            "length(username) BETWEEN 1 AND 25", name=op.f("ck_portal_user_username_length")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_user")),
        sa.UniqueConstraint("username_key", name=op.f("uq_portal_user_username_key")),
    )

    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_user_account_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_user_account_user_id_portal_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("account_id", name=op.f("uq_user_account_account_id")),
    )
    op.create_index(op.f("ix_user_account_user_id"), "user_account", ["user_id"], unique=False)

    op.create_table(
        "registration_draft",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_draft")),
    )
    op.create_index(
        op.f("ix_registration_draft_expires_at"), "registration_draft", ["expires_at"], unique=False
    )

    op.create_table(
        "service_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folio", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('request', 'claim')", name=op.f("ck_service_request_kind_values")
        ),
        sa.CheckConstraint(
            "status IN ('received', 'in_progress', 'resolved', 'closed')",
            name=op.f("ck_service_request_status_values"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_service_request_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_service_request_user_id_portal_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request")),
        sa.UniqueConstraint("folio", name=op.f("uq_service_request_folio")),
    )
    op.create_index(
        "ix_service_request_account_created",
        "service_request",
        ["account_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_service_request_user_id"), "service_request", ["user_id"], unique=False
    )

    op.create_table(
        "service_request_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('received', 'in_progress', 'resolved', 'closed')",
            name=op.f("ck_service_request_event_status_values"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_request.id"],
            name=op.f("fk_service_request_event_request_id_service_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request_event")),
    )
    op.create_index(
        "ix_service_request_event_request_at",
        "service_request_event",
        ["request_id", "at"],
        unique=False,
    )

    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_notice_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_notice_user_id_portal_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
    )
    op.create_index("ix_notice_user_read_at", "notice", ["user_id", "read_at"], unique=False)

    op.create_table(
        "reading_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("read_on", sa.Date(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "status IN ('received', 'accepted', 'rejected')",
            name=op.f("ck_reading_submission_status_values"),
        ),
        sa.CheckConstraint("value >= 0", name=op.f("ck_reading_submission_value_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_reading_submission_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_reading_submission_user_id_portal_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_submission")),
    )
    op.create_index(
        "ix_reading_submission_account_submitted",
        "reading_submission",
        ["account_id", "submitted_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reading_submission_user_id"), "reading_submission", ["user_id"], unique=False
    )

    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("client_address", sa.String(length=45), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_audit_event_user_id_portal_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"], unique=False)
    op.create_index("ix_audit_event_user_at", "audit_event", ["user_id", "at"], unique=False)

    op.create_table(
        "outbox_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_mail_attempts_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_mail")),
    )
    op.create_index(
        "ix_outbox_mail_unsent",
        "outbox_mail",
        ["created_at"],
        unique=False,
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def downgrade():
    op.drop_table("outbox_mail")
    op.drop_table("audit_event")
    op.drop_table("reading_submission")
    op.drop_table("notice")
    op.drop_table("service_request_event")
    op.drop_table("service_request")
    op.drop_table("registration_draft")
    op.drop_table("user_account")
    op.drop_table("portal_user")
    op.drop_table("payment")
    op.drop_table("reading")
    op.drop_table("invoice_line")
    op.drop_table("invoice")
    op.drop_table("account")
    op.drop_table("zone")
