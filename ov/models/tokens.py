"""Single-use tokens: what has been spent, so a replay is refused even across workers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ov.extensions import db
from ov.models.common import UTCDateTime


class UsedNonce(db.Model):
    """A spent one-time value (a form token's nonce, a CAPTCHA vendor's response).

    Only the SHA-256 of the value is kept. The primary key makes the second insert of the
    same digest fail, which is how a replay is detected. Rows are useless once the value
    could no longer be accepted anyway (``expires_at``) and are purged from then on.
    """

    __tablename__ = "used_nonce"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    def __repr__(self) -> str:
        return f"<UsedNonce {self.purpose} {self.digest[:8]}… until {self.expires_at!s}>"
