"""The portal's own tables: users and what they create.

Users, the user-to-account links, registration drafts, service requests with their
timeline, notices, meter-reading submissions, the audit trail and the mail outbox.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ov.extensions import db
from ov.models.billing import Account, Zone, _in
from ov.models.common import UTCDateTime, utcnow


class ServiceRequestKind(StrEnum):
    REQUEST = "request"
    CLAIM = "claim"


class ServiceRequestStatus(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ReadingSubmissionStatus(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ServiceRequestCategory(StrEnum):
    """What a customer files from Mis solicitudes y reclamos (``ServiceRequest.category``);
    the first three are claims about a bill or a reading, the rest requests."""

    BILL_CLARIFICATION = "bill_clarification"
    READING_REVIEW = "reading_review"
    METER_REVIEW = "meter_review"
    CHANGE_OF_HOLDER = "change_of_holder"
    END_OF_SERVICE = "end_of_service"
    ACCESSIBLE_BILL = "accessible_bill"
    TAX_DATA = "tax_data"
    OTHER = "other"


class EventAuthor(StrEnum):
    """Who wrote a step of a request's timeline."""

    PORTAL = "portal"
    CUSTOMER = "customer"
    STAFF = "staff"


def username_key(username: str) -> str:
    """The form of a username that uniqueness and login compare (case-insensitive)."""
    return username.strip().casefold()


def email_key(address: str) -> str:
    """The form of an address that "is it taken?" compares: letter case aside, in every
    alphabet (SQL's lower() folds only ASCII letters on SQLite)."""
    return address.strip().casefold()


class User(UserMixin, db.Model):
    """A portal user. Usernames are unique regardless of letter case."""

    __tablename__ = "portal_user"  # "user" is a reserved word in PostgreSQL
    __table_args__ = (
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
        CheckConstraint("length(username) BETWEEN 1 AND 25", name="username_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(25))
    username_key: Mapped[str] = mapped_column(String(25), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254))
    # Kept in step with ``email`` (see ``email_key``); indexed, not unique: several older
    # users may share an address, new ones may not (ov.services.profile).
    email_key: Mapped[str] = mapped_column(String(254), index=True, default="")
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A new address asked for but not confirmed yet: ``email`` stays in use until the link
    # mailed to this one is opened (ov.services.account_changes).
    pending_email: Mapped[str | None] = mapped_column(String(254))
    pending_email_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Shown as "Última conexión": the login before the current one.
    previous_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paperless_bill: Mapped[bool] = mapped_column(Boolean, default=False)
    # The step-3 choice "avisos por correo"; the four kinds below start from it and are then
    # changed one by one in Mis datos > Preferencias.
    email_notices: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_invoice: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    notify_payment: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    notify_request: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    notify_reading: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Ten digits, stored without spaces; shown as "81 1234 5678".
    phone: Mapped[str | None] = mapped_column(String(10))
    # "Cerrar mis otras sesiones": sessions opened before this moment stop being valid
    # (it is part of the session stamp, like the password hash).
    sessions_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "Cancelar mi usuario": blocked at once (no sign-in, no session), deleted once
    # ``delete_after`` has passed (``flask --app ov purge-cancelled``).
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delete_after: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    legal_version_accepted: Mapped[str | None] = mapped_column(String(20))
    legal_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    links: Mapped[list[UserAccount]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @validates("username")
    def _keep_key_in_step(self, _key: str, value: str) -> str:
        self.username_key = username_key(value)
        return value

    @validates("email")
    def _keep_email_key_in_step(self, _key: str, value: str) -> str:
        self.email_key = email_key(value)
        return value

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"


class UserAccount(db.Model):
    """The link between a portal user and an account: one user per account."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("portal_user.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The user's own short name for the contract ("Casa"), shown beside its number.
    alias: Mapped[str | None] = mapped_column(String(30))
    # How the utility prints this contract's bill: normal, large print or braille. A change
    # is a service request (topic "bill_format"); this changes when the request is resolved.
    bill_format: Mapped[str] = mapped_column(String(12), default="normal",
                                             server_default="normal")

    user: Mapped[User] = relationship(back_populates="links")
    account: Mapped[Account] = relationship()


class AccountChange(db.Model):
    """A change to who controls a user (a password set with a bill, a new email), told to the
    address the user had then with a link that undoes it for a while.

    ``spent_at`` is set when the link is used, or when an older change's link is used (an
    undo takes the newer changes back with it); nothing else sets it, so a recent ``spent_at``
    means a recent undo. Each link works once, while the user's chain of changes is open
    (until ``OV_UNDO_LINK_DAYS`` after its last change or undo: ``ov.services.account_changes``).
    """

    __tablename__ = "account_change"
    __table_args__ = (Index("ix_account_change_user_spent", "user_id", "spent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("portal_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    # The address that was told, and that an undo gives back to the user.
    notified_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    spent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class RegistrationDraft(db.Model):
    """A registration in progress, kept on the server between steps until it expires."""

    __tablename__ = "registration_draft"

    # An unguessable token (secrets.token_urlsafe) carried by the browser.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    step: Mapped[int] = mapped_column(SmallInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


OPEN_TOPIC = "topic IS NOT NULL AND status IN ('received', 'in_progress')"


class ServiceRequest(db.Model):
    """A request or a claim ("solicitud" / "reclamo"), known to the customer by its folio."""

    __tablename__ = "service_request"
    __table_args__ = (
        CheckConstraint(_in("kind", ServiceRequestKind), name="kind_values"),
        CheckConstraint(_in("status", ServiceRequestStatus), name="status_values"),
        Index("ix_service_request_account_created", "account_id", "created_at"),
        # At most one open request per contract and topic (a second bill-format request
        # while one is open is refused by the database, whatever two tabs do at once).
        Index(
            "ux_service_request_open_topic", "account_id", "topic", unique=True,
            sqlite_where=text(OPEN_TOPIC), postgresql_where=text(OPEN_TOPIC),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folio: Mapped[str] = mapped_column(String(20), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_user.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=ServiceRequestStatus.RECEIVED.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the portal files by itself has a topic the utility acts on, with its value:
    # ("bill_format", "braille") asks for the contract's printed bill in braille.
    topic: Mapped[str | None] = mapped_column(String(30))
    detail: Mapped[str | None] = mapped_column(String(30))
    # What the customer filed from Mis solicitudes (ServiceRequestCategory), the bill it is
    # about, the day the utility must answer by, and the photo sent with it.
    category: Mapped[str | None] = mapped_column(String(30))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    answer_due_on: Mapped[date | None] = mapped_column(Date)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id", ondelete="SET NULL"))

    events: Mapped[list[ServiceRequestEvent]] = relationship(
        back_populates="request",
        # Two steps written in the same instant keep the order they were written in.
        order_by="(ServiceRequestEvent.at, ServiceRequestEvent.id)",
        cascade="all, delete-orphan",
    )


class ServiceRequestEvent(db.Model):
    """One step in a request's timeline: a status change or a note."""

    __tablename__ = "service_request_event"
    __table_args__ = (
        CheckConstraint(_in("status", ServiceRequestStatus), name="status_values"),
        CheckConstraint(_in("author", EventAuthor), name="author_values"),
        Index("ix_service_request_event_request_at", "request_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("service_request.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(10), default=EventAuthor.PORTAL.value)

    request: Mapped[ServiceRequest] = relationship(back_populates="events")


class Notice(db.Model):
    """A message to a user ("aviso"), optionally about one of their accounts.

    A notice made by an event (ov.services.notices.notify) has a ``kind`` and a ``key``
    (which invoice, which address...): there is at most one per user, kind and key.
    """

    __tablename__ = "notice"
    __table_args__ = (
        Index("ix_notice_user_read_at", "user_id", "read_at"),
        UniqueConstraint("user_id", "kind", "key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("portal_user.id", ondelete="CASCADE")
    )
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    kind: Mapped[str | None] = mapped_column(String(40))
    key: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where in Mi oficina the notice leads (a request's page...), with the link's words; only
    # a page of Mi oficina, never a link that carries a token.
    link: Mapped[str | None] = mapped_column(String(200))
    link_label: Mapped[str | None] = mapped_column(String(60))


class ZoneNotice(db.Model):
    """A service notice for one zone, or every zone when ``zone_id`` is empty (maintenance,
    an interruption), shown from ``starts_at`` until just before ``ends_at``."""

    __tablename__ = "zone_notice"
    __table_args__ = (
        CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        Index("ix_zone_notice_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    zone: Mapped[Zone | None] = relationship()


class PrivacyRight(StrEnum):
    """The ARCO rights a customer exercises by a request (access is a download at once)."""

    RECTIFICATION = "rectificacion"
    OPPOSITION = "oposicion"
    CANCELLATION = "cancelacion"


class PrivacyRequest(db.Model):
    """A request under the personal-data law, known by its folio, with its legal dates.

    It outlives the user (``user_id`` is emptied when a cancelled user is deleted): the
    utility must be able to show it answered in time.
    """

    __tablename__ = "privacy_request"
    __table_args__ = (CheckConstraint(_in("kind", PrivacyRight), name="kind_values"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folio: Mapped[str] = mapped_column(String(20), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_user.id", ondelete="SET NULL"), index=True
    )
    # Which right (a PrivacyRight value); "right" itself is a reserved word in SQL.
    kind: Mapped[str] = mapped_column(String(15))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answer_due_on: Mapped[date] = mapped_column(Date)
    carry_out_by: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default=ServiceRequestStatus.RECEIVED.value)


class ReadingSubmission(db.Model):
    """A meter reading typed by the customer, waiting for the billing system."""

    __tablename__ = "reading_submission"
    __table_args__ = (
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint(_in("status", ReadingSubmissionStatus), name="status_values"),
        Index("ix_reading_submission_account_submitted", "account_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_user.id", ondelete="SET NULL"), index=True
    )
    read_on: Mapped[date] = mapped_column(Date)
    value: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(
        String(10), default=ReadingSubmissionStatus.RECEIVED.value
    )
    # The estimated bill it corrects, if sent from one; the photo of the meter; and what the
    # customer confirmed when the value looked odd ("lower", "jump").
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id", ondelete="SET NULL"))
    confirmed: Mapped[str | None] = mapped_column(String(10))
    # What staff wrote when they reviewed it (the customer reads it with the outcome).
    review_note: Mapped[str | None] = mapped_column(Text)


class Photo(db.Model):
    """A photo a customer sent (of their meter, with a claim), re-encoded by the portal.

    The file lives under ``OV_UPLOAD_DIR`` as ``stored_name``, chosen by the server; it is
    served only to the user who sent it (ov.services.photos).
    """

    __tablename__ = "photo"
    __table_args__ = (CheckConstraint("byte_size > 0", name="byte_size_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_user.id", ondelete="SET NULL"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(SmallInteger)
    height: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(db.Model):
    """A security-relevant event. ``details`` never holds secrets or raw user input."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_user.id", ondelete="SET NULL")
    )
    # IPv6 text is at most 45 characters.
    client_address: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxMail(db.Model):
    """A mail waiting to be sent (transactional outbox): nothing is lost if SMTP is down."""

    __tablename__ = "outbox_mail"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


# The drain job reads the unsent mails, oldest first; sent mails are left out of the index.
Index(
    "ix_outbox_mail_unsent",
    OutboxMail.created_at,
    sqlite_where=OutboxMail.sent_at.is_(None),
    postgresql_where=OutboxMail.sent_at.is_(None),
)
