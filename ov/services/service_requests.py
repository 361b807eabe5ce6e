"""Service requests the portal files by itself, and their status changes by staff.

**Folios** are ``SR-<year>-<row id, six digits>`` (``SR-2026-000123``): unique because the
row id is, readable on the phone, and made in the same transaction as the row (it is
inserted under a provisional folio, then named from its id).

**The printed bill's format** (``UserAccount.bill_format``) is not changed by the customer
directly: choosing another one files a request (topic ``bill_format``, detail the format)
that the utility carries out. While one is open (received or in progress) for a contract,
asking again is refused as a conflict rather than replacing it: the utility may already be
preparing that bill, and the customer can still call to change it.

**Status changes** (``flask --app ov requests update FOLIO --status ...``) go forward only:
received → in progress → resolved → closed (a step may be skipped; a closed request is
final). Each adds a timeline event and tells the user with a notice (by mail if they get
request notices by email). A resolved ``bill_format`` request sets the contract's format and
is told as a preference done instead, one notice for one event; closing an open one without
doing it needs a note, which the customer reads with what stays as it was. Of two staff
moving one request at once, the second is refused (the update is conditional on the status
it read). Callers commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ov.extensions import db
from ov.formatting import LOCAL_TIME, day
from ov.models import (
    Account,
    EventAuthor,
    OutboxMail,
    ServiceRequest,
    ServiceRequestEvent,
    ServiceRequestKind,
    ServiceRequestStatus,
    User,
    UserAccount,
    utcnow,
)
from ov.services import audit, contracts, mail, notices
from ov.services.preferences import FORMAT_LABELS, format_phrase

BILL_FORMAT = "bill_format"
OPEN = (ServiceRequestStatus.RECEIVED.value, ServiceRequestStatus.IN_PROGRESS.value)
#: What staff type for each status, and the order statuses go in.
STATUS_NAMES = {"en-proceso": ServiceRequestStatus.IN_PROGRESS.value,
                "resuelta": ServiceRequestStatus.RESOLVED.value,
                "cerrada": ServiceRequestStatus.CLOSED.value}
ORDER = [status.value for status in ServiceRequestStatus]
WORDS = notices.REQUEST_STATUS_WORDS


class RequestError(ValueError):
    """A status change that cannot be made; the message says why, in Spanish."""


def folio_for(request: ServiceRequest) -> str:
    created = request.created_at.astimezone(LOCAL_TIME)
    return f"SR-{created.year}-{request.id:06d}"


def _file(request: ServiceRequest) -> ServiceRequest:
    """Insert the request under a provisional folio, then name it from its id."""
    request.folio = f"tmp-{secrets.token_hex(8)}"
    request.events.append(ServiceRequestEvent(at=request.created_at,
                                              status=ServiceRequestStatus.RECEIVED.value))
    db.session.add(request)
    db.session.flush()
    request.folio = folio_for(request)
    db.session.flush()
    return request


def describe(request: ServiceRequest) -> str:
    """What the customer asked, as Mis solicitudes says it: ``pediste tu factura en braille
    el 01/12/2026``."""
    if request.topic == BILL_FORMAT:
        return (f"pediste tu factura {format_phrase(request.detail)} el "
                f"{day(request.created_at)}")
    return f"nos enviaste «{request.subject}» el {day(request.created_at)}"


def status_word(request: ServiceRequest) -> str:
    return WORDS.get(request.status, request.status)


#: How a request's line starts in Mis solicitudes and Preferencias.
LINE_STARTS = {"received": "Pendiente", "in_progress": "En proceso", "resolved": "Resuelta",
               "closed": "Cerrada"}


def line(request: ServiceRequest) -> str:
    """``Pendiente: pediste tu factura en braille el 01/12/2026, folio SR-2026-000001.``"""
    return (f"{LINE_STARTS.get(request.status, request.status)}: {describe(request)}, "
            f"folio {request.folio}.")


# --- the printed bill's format ----------------------------------------------------------------

@dataclass(frozen=True)
class Asked:
    request: ServiceRequest


@dataclass(frozen=True)
class StillOpen:
    request: ServiceRequest


@dataclass(frozen=True)
class SameFormat:
    value: str


@dataclass(frozen=True)
class Unlinked:
    """The contract left the user (cancelled, removed in another tab) while they asked."""


FormatOutcome = Asked | StillOpen | SameFormat | Unlinked


class _NoLongerLinked(Exception):
    pass


def _still_linked(link: UserAccount) -> bool:
    return db.session.scalar(
        select(UserAccount.id).where(UserAccount.user_id == link.user_id,
                                     UserAccount.account_id == link.account_id)
    ) is not None


def open_bill_format_requests(user_id: int) -> dict[int, ServiceRequest]:
    """The user's open bill-format requests, by account id, only for contracts still linked
    to them (one query)."""
    rows = db.session.scalars(
        select(ServiceRequest)
        .join(UserAccount, (UserAccount.account_id == ServiceRequest.account_id)
              & (UserAccount.user_id == user_id))
        .where(ServiceRequest.user_id == user_id, ServiceRequest.topic == BILL_FORMAT,
               ServiceRequest.status.in_(OPEN))
        .order_by(ServiceRequest.id)
    )
    return {row.account_id: row for row in rows}


def take_turns(user_id: int) -> None:
    """Lock the user's row until the transaction ends (a no-op on SQLite)."""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def ask_bill_format(link: UserAccount, value: str, *, client_address: str | None,
                    now: datetime | None = None, retried: bool = False) -> FormatOutcome:
    """File the request to print the contract's bill in ``value`` (one of the formats),
    audited; refused while one is open for that contract, and pointless for the current one.

    Two tabs asking at once: the user's row is locked first (PostgreSQL), so they take turns
    and the second finds the first's request; where the lock does nothing (SQLite), the
    unique index on open requests refuses the second insert, told as the first still open.
    """
    if value not in FORMAT_LABELS:
        raise ValueError(f"unknown bill format {value!r}")
    take_turns(link.user_id)
    if not _still_linked(link):
        return Unlinked()
    still_open = open_bill_format_requests(link.user_id).get(link.account_id)
    if still_open is not None:
        return StillOpen(still_open)
    if value == (link.bill_format or "normal"):
        return SameFormat(value)
    account = link.account
    wanted = format_phrase(value)
    try:
        with db.session.begin_nested():
            request = _file(ServiceRequest(
                account_id=link.account_id, user_id=link.user_id,
                kind=ServiceRequestKind.REQUEST.value, subject="Formato de la factura impresa",
                body=f"Imprimir la factura del contrato {account.printed_number} {wanted}.",
                status=ServiceRequestStatus.RECEIVED.value, created_at=now or utcnow(),
                topic=BILL_FORMAT, detail=value,
            ))
            # Checked again once written: on SQLite the write holds the database from here
            # on, so a cancellation or a removal committed since the first check shows now.
            if not _still_linked(link):
                raise _NoLongerLinked
    except _NoLongerLinked:
        return Unlinked()
    except IntegrityError:  # another tab filed one since the check (ux_service_request_open_topic)
        first = db.session.scalars(
            select(ServiceRequest).where(ServiceRequest.account_id == link.account_id,
                                         ServiceRequest.topic == BILL_FORMAT,
                                         ServiceRequest.status.in_(OPEN))
        ).first()
        if first is None:
            raise
        if first.user_id != link.user_id and not retried:
            # A former holder's request left open (from before open requests were closed
            # with their contract): it can no longer be carried out for them. Close it, and
            # file this one.
            contracts.close_open_topics(
                first.user_id, [link.account_id], client_address=client_address,
                note="Cerrada: el contrato ya tiene otro usuario.")
            return ask_bill_format(link, value, client_address=client_address, now=now,
                                   retried=True)
        return StillOpen(first)
    audit.record("bill_format_requested", user_id=link.user_id, client_address=client_address,
                 account_id=link.account_id, folio=request.folio, bill_format=value)
    return Asked(request)


# --- mine, for Mis solicitudes ----------------------------------------------------------------

def requests_of(user_id: int, limit: int = 50) -> list[ServiceRequest]:
    """The user's requests on contracts still linked to them, newest first (one query)."""
    return list(db.session.scalars(
        select(ServiceRequest)
        .join(UserAccount, (UserAccount.account_id == ServiceRequest.account_id)
              & (UserAccount.user_id == user_id))
        .where(ServiceRequest.user_id == user_id)
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc()).limit(limit)
    ))


# --- staff: status changes --------------------------------------------------------------------

@dataclass
class StatusChanged:
    """What a status change did: ``format_set`` when a resolved bill-format request set the
    contract's format; ``format_left`` when a bill-format request ended without it (closed
    unattended, or resolved on a contract no longer linked to who asked)."""

    request: ServiceRequest
    mails: list[OutboxMail] = field(default_factory=list)
    format_set: bool = False
    format_left: bool = False
    current_format: str | None = None


def find(folio: str) -> ServiceRequest:
    wanted = folio.strip().upper()
    found = db.session.scalars(
        select(ServiceRequest).options(selectinload(ServiceRequest.events))
        .where(ServiceRequest.folio == wanted)
    ).first()
    if found is None:
        raise RequestError(f"No hay ninguna solicitud con el folio «{folio.strip()}».")
    return found


def status_value(name: str) -> str:
    value = STATUS_NAMES.get(name.strip().casefold())
    if value is None:
        known = ", ".join(STATUS_NAMES)
        raise RequestError(f"No hay ningún estado «{name.strip()}». Los estados son: {known}.")
    return value


def set_status(folio: str, status: str, note: str = "", *,
               now: datetime | None = None) -> StatusChanged:
    """Move the request to ``status`` (as staff type it: en-proceso, resuelta, cerrada), with
    an optional note, audited; the user is told (see the module's docstring)."""
    request = find(folio)
    value = status_value(status)
    if request.status == ServiceRequestStatus.CLOSED.value:
        raise RequestError(f"La solicitud {request.folio} ya está cerrada: no cambia más.")
    if ORDER.index(value) <= ORDER.index(request.status):
        raise RequestError(f"La solicitud {request.folio} ya está {status_word(request)}: "
                           "solo puede avanzar (en-proceso, resuelta, cerrada).")
    note = " ".join(note.split())
    if any(ord(char) < 32 for char in note):
        raise RequestError("La nota tiene caracteres de control; escríbela de nuevo sin ellos.")
    previous = request.status
    closing_unattended = (request.topic == BILL_FORMAT and previous in OPEN
                          and value == ServiceRequestStatus.CLOSED.value)
    if closing_unattended and not note:
        raise RequestError(f"Para cerrar la solicitud {request.folio} sin atenderla escribe con "
                           "--note por qué: se lo diremos al cliente.")
    # Only from the status read above: of two staff moving it at once, the second is refused.
    moved = db.session.execute(
        update(ServiceRequest)
        .where(ServiceRequest.id == request.id, ServiceRequest.status == previous)
        .values(status=value).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise RequestError(f"La solicitud {request.folio} cambió mientras tanto: consúltala de "
                           "nuevo con «requests list» antes de moverla.")
    set_committed_value(request, "status", value)
    request.events.append(ServiceRequestEvent(at=now or utcnow(), status=value, note=note,
                                              author=EventAuthor.STAFF.value))
    audit.record("service_request_status", user_id=request.user_id, folio=request.folio,
                 previous=previous, status=value, by="staff")
    changed = StatusChanged(request)
    made = None
    if request.topic == BILL_FORMAT and value == ServiceRequestStatus.RESOLVED.value:
        changed.format_set = _apply_bill_format(request)
        changed.format_left = not changed.format_set
        if changed.format_set:
            made = _tell_format_done(request)
    elif closing_unattended:
        link = _link_of(request)
        changed.format_left = True
        changed.current_format = link.bill_format if link else None
        made = _tell_format_closed(request, note, changed.current_format)
    if made is None and not changed.format_set:
        made = notices.request_status_changed(request)
    if made is not None and made.mail is not None:
        changed.mails.append(made.mail)
    return changed


def _link_of(request: ServiceRequest) -> UserAccount | None:
    """The link of the user who asked to the contract, if it is still theirs."""
    return db.session.scalars(
        select(UserAccount).where(UserAccount.account_id == request.account_id,
                                  UserAccount.user_id == request.user_id)
    ).first()


def _apply_bill_format(request: ServiceRequest) -> bool:
    """Set the format on the link of the user who asked, if the contract is still theirs."""
    link = _link_of(request)
    if link is None or request.detail not in FORMAT_LABELS:
        return False
    link.bill_format = request.detail
    audit.record("bill_format_changed", user_id=request.user_id, account_id=link.account_id,
                 folio=request.folio, bill_format=request.detail, by="staff")
    return True


def _tell_format_done(request: ServiceRequest) -> notices.Notified | None:
    account = db.session.get(Account, request.account_id)
    wanted = format_phrase(request.detail)
    return notices.preference_done(
        request,
        title=f"Listo: tu factura se imprimirá {wanted}",
        body=(f"Atendimos tu solicitud {request.folio}: la factura impresa del contrato "
              f"{account.printed_number} llegará {wanted} a partir de la próxima que "
              "emitamos."),
    )


def _tell_format_closed(request: ServiceRequest, note: str,
                        current_format: str | None) -> notices.Notified | None:
    """A bill-format request closed without being done: what stays, and staff's reason."""
    if request.user_id is None:
        return None
    user = db.session.get(User, request.user_id)
    account = db.session.get(Account, request.account_id)
    current = format_phrase(current_format)
    reason = note if note.endswith((".", "!", "?")) else note + "."
    return notices.notify(
        user, notices.REQUEST_STATUS, f"{request.folio}:{request.status}",
        account_id=request.account_id,
        title=f"Cerramos tu solicitud {request.folio} sin cambiar el formato",
        body=(f"Cerramos tu solicitud {request.folio} sin atenderla: la factura impresa del "
              f"contrato {account.printed_number} se sigue imprimiendo {current}. Motivo: "
              f"{reason} Si todavía la quieres {format_phrase(request.detail)}, pídela de "
              "nuevo en Preferencias."),
        action=("Ver mis preferencias", mail.external_url("office.preferences")),
    )


def asked(request: ServiceRequest) -> str:
    """What was asked, as staff read it: ``Formato de la factura impresa: letra grande``."""
    if request.topic == BILL_FORMAT and request.detail:
        return f"{request.subject}: {FORMAT_LABELS.get(request.detail, request.detail)}"
    return f"{request.subject}: {request.detail}" if request.detail else request.subject


def listing(open_only: bool = False, limit: int = 50) -> list[tuple[ServiceRequest, Account]]:
    """Up to ``limit`` requests for staff with their contracts, oldest first (only the open
    ones with ``open_only``); one query."""
    query = (select(ServiceRequest, Account).join(Account, Account.id == ServiceRequest.account_id)
             .order_by(ServiceRequest.created_at, ServiceRequest.id).limit(limit))
    if open_only:
        query = query.where(ServiceRequest.status.in_(OPEN))
    return [(row, account) for row, account in db.session.execute(query)]
