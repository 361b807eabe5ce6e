"""Transactional mail: an outbox table written in the caller's transaction, sent afterwards.

How a view sends mail::

    mails = [mail.queue_welcome(user)]      # rows added to db.session, not committed
    db.session.commit()                     # the mail exists only if the work does
    mail.deliver_soon(mails)                # best effort now; never raises

If SMTP is down the rows stay unsent and ``flask --app ov mail-drain`` (run it from cron or a
systemd timer) sends them later. Delivery is at least once: a mail is marked sent only after
the server accepted it.

Two drains never send the same mail: each mail is claimed in its own short transaction, on
PostgreSQL with ``SELECT ... FOR UPDATE SKIP LOCKED`` (a second worker skips it), on SQLite by
taking the database's write lock first (a second worker waits, then sees it sent). On SQLite
the write lock is held while that one mail is handed to the server, which ``MAIL_TIMEOUT``
bounds.

Delivery runs in its own database session, so it never commits or rolls back the caller's
work, and it only sees mails that were committed.
"""

from __future__ import annotations

import re
import smtplib
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from flask import current_app, g, render_template
from flask_mailman import EmailMultiAlternatives
from jinja2 import TemplateNotFound
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from ov import extensions
from ov.extensions import db
from ov.models import Account, OutboxMail, User, utcnow
from ov.services import tokens

MEXICO_CITY = ZoneInfo("America/Mexico_City")
DEFAULT_LIMIT = 100
MAX_ERROR_LENGTH = 200
# Transport failures in a row after which a drain stops: the server is down, the rest waits.
MAX_TRANSPORT_FAILURES = 2
# Paths the mails link to that have no endpoint yet (DESIGN.md fixes the URLs).
LOGIN_PATH = "/entrar"
RECOVER_PATH = "/recuperar"
# What each template needs from the caller (a missing value would print as nothing).
REQUIRED_CONTEXT = {
    "welcome": ("user", "accounts", "confirm_url"),
    "registration_attempt": ("owner", "account", "when", "recover_url"),
    "confirm_email": ("user", "confirm_url"),
    "email_replaced": ("user", "when", "new_masked", "undo_url", "undo_validity"),
    "account_changed_again": ("user", "kind", "here", "when", "since", "current_masked",
                              "undo_url", "until"),
    "account_change_undone": ("user", "when", "restored_masked", "replaced", "undo_url",
                              "until"),
    "notice": ("user", "title", "body", "action", "notices_url"),
}
# Failures caused by one message (the connection is still good): the drain goes on.
# OV_MAIL_BACKEND=file: our backend (one .eml file per message), not Flask-Mailman's .log.
BACKENDS = {"file": "ov.mail_backends.EmailBackend"}
MESSAGE_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    ValueError,  # includes flask_mailman's BadHeaderError
    UnicodeError,
)


@dataclass
class DeliveryReport:
    """What a delivery run did. ``deferred``: not tried because the server was unreachable."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0


# --- links -------------------------------------------------------------------------------

def _public_base():
    base = urlsplit(current_app.config["OV_PUBLIC_URL"])
    if base.scheme not in ("http", "https") or not base.netloc:
        raise RuntimeError(
            f"OV_PUBLIC_URL={current_app.config['OV_PUBLIC_URL']!r} must be an absolute "
            "http(s) URL, e.g. https://oficinavirtual.example"
        )
    return base


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for a mail, on OV_PUBLIC_URL's host whatever Host the request had."""
    base = _public_base()
    anchor = values.pop("_anchor", None)
    current_app.inject_url_defaults(endpoint, values)
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path.rstrip("/") or "/", url_scheme=base.scheme
    )
    url = adapter.build(endpoint, values, force_external=True)
    if anchor:
        url += "#" + quote(anchor, safe="")
    return url


def external_path(path: str) -> str:
    """The absolute URL of ``path`` on OV_PUBLIC_URL (for pages with no endpoint yet)."""
    base = _public_base()
    full_path = base.path.rstrip("/") + "/" + path.lstrip("/")
    return urlunsplit((base.scheme, base.netloc, full_path, "", ""))


def local_datetime(moment: datetime) -> str:
    """``dd/mm/aaaa hh:mm`` in America/Mexico_City (what customers read)."""
    return moment.astimezone(MEXICO_CITY).strftime("%d/%m/%Y %H:%M")


def validity_text(seconds: int) -> str:
    """``7 días``, ``1 día``, ``12 horas``: how long a link lasts, as a customer reads it."""
    days, hours = seconds // 86400, seconds // 3600
    if days >= 1:
        return "1 día" if days == 1 else f"{days} días"
    return "1 hora" if hours <= 1 else f"{hours} horas"


# --- queueing ----------------------------------------------------------------------------

def _tidy_text(text: str) -> str:
    """Drop the blank lines and trailing spaces that template tags leave behind."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _render_html(name: str, context: dict) -> str | None:
    try:
        return render_template(name, **context)
    except TemplateNotFound as exc:
        if exc.name != name:  # the template exists but includes something missing: a bug
            raise
        return None


def _default_context() -> dict:
    """Links and facts any mail may use; the caller's context overrides them."""
    return {
        "login_url": external_path(LOGIN_PATH),
        "recover_url": external_path(RECOVER_PATH),
        "confirm_validity": validity_text(tokens.email_confirmation_max_age()),
    }


def queue(to: str, subject: str, template: str, **context) -> OutboxMail:
    """Render ``mail/<template>.txt`` (and ``.html`` if it exists) into an outbox row.

    The row is added to ``db.session`` and not committed: it is sent only if the caller
    commits. Templates get ``subject`` and everything in ``context``.
    """
    to = to.strip()
    if not to or "@" not in to or any(char in to + subject for char in "\r\n"):
        raise ValueError("a mail needs one recipient address and a one-line subject")
    missing = [key for key in REQUIRED_CONTEXT.get(template, ()) if key not in context]
    if missing:
        raise TypeError(f"mail/{template} needs {', '.join(missing)}")
    context = {"subject": subject, **_default_context(), **context}
    row = OutboxMail(
        to_address=to,
        subject=subject,
        body_text=_tidy_text(render_template(f"mail/{template}.txt", **context)),
        body_html=_render_html(f"mail/{template}.html", context),
        attempts=0,
    )
    db.session.add(row)
    return row


def _ensure_id(user: User) -> None:
    if user.id is None:
        db.session.flush()


def confirm_url(user: User) -> str:
    """The absolute link that confirms the user's current email."""
    _ensure_id(user)
    return external_url("account.confirm_email", token=tokens.email_confirmation_token(user))


def queue_welcome(user: User, accounts: Iterable[Account] | None = None) -> OutboxMail:
    """The mail after registration: username, linked contracts, the confirmation link.

    ``accounts`` defaults to the accounts in ``user.links``.
    """
    _ensure_id(user)
    if accounts is None:
        accounts = [link.account for link in user.links]
    return queue(
        user.email,
        "Te damos la bienvenida a la Oficina Virtual",
        "welcome",
        user=user,
        accounts=list(accounts),
        confirm_url=confirm_url(user),
    )


def queue_confirm_email(user: User) -> OutboxMail:
    """A new link to confirm the user's email."""
    return queue(
        user.email,
        "Confirma tu correo electrónico",
        "confirm_email",
        user=user,
        confirm_url=confirm_url(user),
    )


def queue_registration_attempt(
    owner: User, account: Account, at: datetime | None = None
) -> OutboxMail:
    """Tell the owner of ``account`` that someone tried to register it again (at ``at``)."""
    return queue(
        owner.email,
        "Alguien intentó registrar tu contrato en la Oficina Virtual",
        "registration_attempt",
        owner=owner,
        account=account,
        when=local_datetime(at or utcnow()),
        recover_url=external_path(RECOVER_PATH),
    )


# --- delivery ----------------------------------------------------------------------------

def _describe(exc: BaseException) -> str:
    """A short, single-line error for the outbox row and the log, without credentials."""
    text = f"{type(exc).__name__}: {exc}"
    config = current_app.config
    for secret in (config.get("MAIL_PASSWORD"), config.get("MAIL_USERNAME")):
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:MAX_ERROR_LENGTH]


def _message_id(row: OutboxMail) -> str:
    """The same Message-ID on every attempt, so a duplicate can be recognised."""
    sender = parseaddr(current_app.config.get("MAIL_DEFAULT_SENDER") or "")[1]
    domain = sender.rpartition("@")[2] or urlsplit(current_app.config["OV_PUBLIC_URL"]).hostname
    stamp = int(row.created_at.timestamp()) if row.created_at else 0
    return f"<ov-outbox-{row.id}-{stamp}@{domain or 'localhost'}>"


def _build(row: OutboxMail, connection) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body_text,
        to=[row.to_address],
        connection=connection,
        headers={"Message-ID": _message_id(row), "Auto-Submitted": "auto-generated"},
    )
    if row.body_html:
        message.attach_alternative(row.body_html, "text/html")
    return message


def _pending_ids(session: Session, ids: list[int] | None, limit: int) -> list[int]:
    query = select(OutboxMail.id).where(OutboxMail.sent_at.is_(None))
    if ids is not None:
        query = query.where(OutboxMail.id.in_(ids))
    query = query.order_by(OutboxMail.created_at, OutboxMail.id).limit(limit)
    return list(session.scalars(query))


def _claim(session: Session, mail_id: int) -> OutboxMail | None:
    """Lock one unsent mail for this transaction; None if it is sent or another worker has it."""
    query = select(OutboxMail).where(OutboxMail.id == mail_id, OutboxMail.sent_at.is_(None))
    if session.get_bind().dialect.name == "sqlite":
        # A write statement takes SQLite's single write lock: another drain waits here and,
        # once this transaction commits, reads the mail as sent.
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id)
            .values(attempts=OutboxMail.attempts)
            .execution_options(synchronize_session=False)
        )
    else:
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def _connection():
    """A connection of the configured backend (``file`` means ``.eml`` files)."""
    name = current_app.extensions["mailman"].backend
    return extensions.mail.get_connection(backend=BACKENDS.get(name, name))


def _close(connection) -> None:
    try:
        connection.close()
    except Exception as exc:  # a broken connection may fail to say goodbye: nothing is lost
        current_app.logger.info("mail connection closed uncleanly: %s", _describe(exc))


def deliver(ids: list[int] | None = None, limit: int = DEFAULT_LIMIT) -> DeliveryReport:
    """Send unsent mails, oldest first (only ``ids`` when given), committing each one.

    A mail the server accepts gets ``sent_at``; one it refuses, or that cannot be handed over,
    gets ``attempts`` + 1 and a short ``last_error`` and stays in the outbox. Sending errors
    never propagate; a database failure does.
    """
    report = DeliveryReport()
    logger = current_app.logger
    with Session(db.engine) as session:
        pending = _pending_ids(session, ids, limit)
        session.rollback()
        if not pending:
            return report
        connection = _connection()
        transport_failures = 0
        try:
            for position, mail_id in enumerate(pending):
                row = _claim(session, mail_id)
                if row is None:
                    session.rollback()
                    continue
                try:
                    connection.open()
                    accepted = connection.send_messages([_build(row, connection)])
                    if not accepted:
                        raise smtplib.SMTPException("the mail backend accepted nothing")
                except Exception as exc:  # SMTP, socket, TLS, header errors: all kept
                    error = _describe(exc)
                    row.attempts += 1
                    row.last_error = error
                    attempts = row.attempts
                    session.commit()
                    report.failed += 1
                    logger.warning("mail %s not sent (attempt %s): %s", mail_id, attempts, error)
                    if isinstance(exc, MESSAGE_ERRORS):
                        continue
                    transport_failures += 1
                    _close(connection)
                    if transport_failures >= MAX_TRANSPORT_FAILURES:
                        report.deferred = len(pending) - position - 1
                        break
                else:
                    row.sent_at = utcnow()
                    row.last_error = None
                    session.commit()
                    report.sent += 1
                    transport_failures = 0
        finally:
            _close(connection)
            session.rollback()
    if report.deferred:
        logger.warning("mail server unreachable: %s mail(s) left for the next drain",
                       report.deferred)
    return report


def _saved_ids(mails: OutboxMail | Iterable[OutboxMail]) -> list[int]:
    if isinstance(mails, OutboxMail):
        mails = [mails]
    ids = []
    for row in mails:
        identity = inspect(row).identity
        if identity is None:
            current_app.logger.warning("deliver_soon got a mail that was never saved: skipped")
            continue
        ids.append(identity[0])
    return ids


def _deliver_quietly(ids: list[int]) -> DeliveryReport:
    if not ids:
        return DeliveryReport()
    try:
        report = deliver(ids=ids, limit=len(ids))
    except Exception:
        current_app.logger.exception("outbox: could not deliver %s mail(s) now", len(ids))
        return DeliveryReport(deferred=len(ids))
    if report.failed or report.deferred:
        current_app.logger.warning(
            "outbox: %s mail(s) could not be sent now; they stay in the outbox for mail-drain",
            report.failed + report.deferred,
        )
    return report


def deliver_soon(mails: OutboxMail | Iterable[OutboxMail]) -> DeliveryReport:
    """Try to send mails a view has just committed; never raises, never delays the commit.

    Mails not committed (or not even flushed) are left for ``mail-drain``. If SMTP is down the
    mails stay in the outbox and a log line says so.
    """
    return _deliver_quietly(_saved_ids(mails))


_sender: ThreadPoolExecutor | None = None
_sender_lock = threading.Lock()


def _background() -> ThreadPoolExecutor:
    """The process's mail-sending threads, made on first use (after a server's fork)."""
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ov-mail")
        return _sender


AFTER_REQUEST = "ov_mail_after_request"


def deliver_after_response(response, mails: OutboxMail | Iterable[OutboxMail]):
    """Send committed mails in the background once this request is over; returns ``response``.

    For answers that must not say by their timing whether a mail was sent (recovery by
    email, a login that locks an account): the request only notes the mail ids, and
    ``send_after_request`` (a ``teardown_request`` hook: it runs after the session is saved)
    hands them to a background thread. Neither this answer nor the next request on the same
    keep-alive connection waits for the mail server, and nothing depends on when the WSGI
    server calls ``close()``. A mail not sent then (SMTP down, process stopped) stays in the
    outbox for ``mail-drain``.
    """
    ids = _saved_ids(mails)
    if ids:
        g.setdefault(AFTER_REQUEST, []).extend(ids)
    return response


def send_after_request(_error: BaseException | None = None) -> None:
    """The teardown hook of ``deliver_after_response`` (registered by the auth blueprint)."""
    ids = g.pop(AFTER_REQUEST, None)
    if not ids:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def send() -> None:
        with app.app_context():
            try:
                _deliver_quietly(ids)
            finally:
                db.session.remove()

    _background().submit(send)
