"""Notices ("avisos"): the user's own messages, marked read one by one or all at once.

Every query goes through the user's ``Scope`` (ov.services.office): a notice of another
customer is not found. Callers commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from ov.extensions import db
from ov.models import Notice, utcnow
from ov.services.office import Scope


def mark_read(scope: Scope, notice_id: int, now: datetime | None = None) -> Notice | None:
    """Mark one of the user's notices read (a read one keeps its first reading time);
    None when it is not theirs."""
    notice = scope.notice(notice_id)
    if notice is not None and notice.read_at is None:
        notice.read_at = now or utcnow()
    return notice


def mark_all_read(scope: Scope, now: datetime | None = None) -> int:
    """Mark every unread notice of the user read; how many there were."""
    result = db.session.execute(
        update(Notice)
        .where(Notice.user_id == scope.user_id, Notice.read_at.is_(None))
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
