"""A short name per contract, chosen by its user ("Casa", "Local de la tienda").

Revision ID: 0007_contract_alias
Revises: 0005_scrub_audit_usernames
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_contract_alias"
down_revision = "0005_scrub_audit_usernames"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alias", sa.String(length=30), nullable=True))


def downgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("alias")
