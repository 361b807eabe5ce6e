"""The notices service without HTTP: marking read, event notices, zone-wide service notices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ov.extensions import db
from ov.models import Notice
from ov.services import notices
from ov.services.office import Scope
from tests.support.factories import make_customer

pytestmark = pytest.mark.usefixtures("clean_db")

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def test_marking_read_goes_through_the_users_scope(app):
    with app.app_context():
        user, _ = make_customer()
        other, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                 number="5550001")
        mine = Notice(user_id=user.id, title="Mío", body="x")
        theirs = Notice(user_id=other.id, title="Suyo", body="x")
        db.session.add_all([mine, theirs])
        db.session.flush()
        scope = Scope.of(user.id)
        assert notices.mark_read(scope, theirs.id, NOW) is None
        assert theirs.read_at is None
        assert notices.mark_read(scope, mine.id, NOW) is mine and mine.read_at == NOW
        later = datetime(2026, 12, 2, tzinfo=UTC)
        assert notices.mark_read(scope, mine.id, later).read_at == NOW  # the first reading


def test_marking_all_read_counts_only_the_users_unread_notices(app):
    with app.app_context():
        user, _ = make_customer()
        other, _ = make_customer(username="otraPersona2", email="otra@ejemplo.mx",
                                 number="5550001")
        db.session.add_all([Notice(user_id=user.id, title=str(n), body="x") for n in range(3)]
                           + [Notice(user_id=user.id, title="leído", body="x", read_at=NOW),
                              Notice(user_id=other.id, title="suyo", body="x")])
        db.session.flush()
        assert notices.mark_all_read(Scope.of(user.id), NOW) == 3
        assert notices.mark_all_read(Scope.of(user.id), NOW) == 0
        assert Scope.of(user.id).unread_notices() == 0
        assert Scope.of(other.id).unread_notices() == 1
