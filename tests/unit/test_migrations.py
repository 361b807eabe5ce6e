"""Upgrading keeps every row: a migration that rebuilds a table (SQLite alters a table by
copying it, dropping the old one and renaming the copy) must not let the drop cascade to the
rows that point at it."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from ov.extensions import db
from ov.models import AuditEvent, Notice, User, UserAccount
from ov.services import audit
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")

# Every revision since the first one that had users, their links, notices and audit events.
REVISIONS = ["0003", "0004", "0005_scrub_audit_usernames", "0007_contract_alias",
             "0008_zone_notices"]


@pytest.mark.parametrize("start", REVISIONS)
def test_upgrading_keeps_users_links_notices_and_audit_events(app, start):
    with app.app_context():
        user, _account = make_customer(email="JOSÉ.Pérez@Ejemplo.mx")
        db.session.add(Notice(user_id=user.id, title="Hola", body="Un aviso"))
        audit.record("login_succeeded", user_id=user.id, client_address="10.0.0.1")
        db.session.commit()
        user_id = user.id
        db.session.remove()
        downgrade(revision=start)
        upgrade()
        db.session.remove()
        links = db.session.scalar(select(func.count()).select_from(UserAccount)
                                  .where(UserAccount.user_id == user_id))
        notices = db.session.scalar(select(func.count()).select_from(Notice)
                                    .where(Notice.user_id == user_id))
        owners = list(db.session.scalars(select(AuditEvent.user_id)))
        key = db.session.get(User, user_id).email_key
    assert (links, notices, owners) == (1, 1, [user_id])
    assert key == "josé.pérez@ejemplo.mx"  # folded in every alphabet, as Python folds it
