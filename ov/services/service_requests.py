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

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ov.extensions import db
from ov.formatting import LOCAL_TIME, day
from ov.models import (
    Account,
    EventAuthor,
    Invoice,
    OutboxMail,
    ServiceRequest,
    ServiceRequestCategory,
    ServiceRequestEvent,
    ServiceRequestKind,
    ServiceRequestStatus,
    User,
    UserAccount,
    Zone,
    utcnow,
)
from ov.services import audit, contracts, mail, notices
from ov.services.locks import hold, take_turns
from ov.services.office import CLARIFYING as CLARIFYING  # one definition, read here too
from ov.services.office import OPEN_REQUEST
from ov.services.preferences import FORMAT_LABELS, format_phrase
from ov.services.text import tidy_lines

BILL_FORMAT = "bill_format"
OPEN = OPEN_REQUEST
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


def _file(request: ServiceRequest, author: str = EventAuthor.PORTAL.value) -> ServiceRequest:
    """Insert the request under a provisional folio, then name it from its id."""
    request.folio = f"tmp-{secrets.token_hex(8)}"
    request.events.append(ServiceRequestEvent(at=request.created_at,
                                              status=ServiceRequestStatus.RECEIVED.value,
                                              author=author))
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


def status_agreed(request: ServiceRequest) -> str:
    """The status word agreeing with the kind: a claim (``reclamo``) is ``cerrado``, a
    request (``solicitud``) ``cerrada``."""
    word = status_word(request)
    if request.kind == ServiceRequestKind.CLAIM.value and word.endswith("a"):
        return f"{word[:-1]}o"
    return word


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
                category=ServiceRequestCategory.ACCESSIBLE_BILL.value,
                answer_due_on=answer_due(now or utcnow(),
                                         ServiceRequestCategory.ACCESSIBLE_BILL.value),
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


# --- what customers file from Mis solicitudes y reclamos -------------------------------------

#: The types a customer chooses from, in the form's order, as the customer reads them.
CATEGORY_LABELS = {
    ServiceRequestCategory.BILL_CLARIFICATION.value: "Aclaración de factura",
    ServiceRequestCategory.READING_REVIEW.value: "Revisión de lectura",
    ServiceRequestCategory.METER_REVIEW.value: "Revisión de medidor",
    ServiceRequestCategory.CHANGE_OF_HOLDER.value: "Cambio de titular",
    ServiceRequestCategory.END_OF_SERVICE.value: "Baja del servicio",
    ServiceRequestCategory.ACCESSIBLE_BILL.value: "Factura en formato accesible",
    ServiceRequestCategory.TAX_DATA.value: "Datos fiscales para mi CFDI",
    ServiceRequestCategory.OTHER.value: "Otro",
}
#: The first three are claims about a bill, a reading or the meter; the rest are requests.
CLAIMS = frozenset({ServiceRequestCategory.BILL_CLARIFICATION.value,
                    ServiceRequestCategory.READING_REVIEW.value,
                    ServiceRequestCategory.METER_REVIEW.value})
#: Claims that put the invoice they are about "en aclaración" while open: ``CLARIFYING``
#: (defined with ``Scope.open_claims``, which reads it).
KIND_WORDS = {ServiceRequestKind.CLAIM.value: "reclamo",
              ServiceRequestKind.REQUEST.value: "solicitud"}
AUTHOR_WORDS = {EventAuthor.CUSTOMER.value: "Tú", EventAuthor.PORTAL.value: "La Oficina Virtual"}
DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 2000
COMMENT_MIN, COMMENT_MAX = 2, 2000

# A leak said in the words customers use: "fuga", "fuguita", "se fugó", "huele (güele) a
# gas", "olor muy fuerte a gas", "apesta a gas", "se sale el gas", "el gas se está saliendo",
# "escape de gas"... compared without accents or letter case. A water leak ("fuga de agua")
# is no gas emergency, nor is a "fugaz" change.
LEAK = re.compile(
    r"\bfug(?!az\b|aces\b)\w*\b(?!\s+del?\s+agua\b)"
    r"|\b(?:h|g)?uel(?:e|en|o)\b(?:\s+\w+){0,2}?\s+(?:a\s+)?gas\b"
    r"|\bolor(?:es)?(?:\s+\w+){0,3}?\s+(?:(?:a|de)\s+)?gas\b"
    r"|\b(?:apest\w*|peste|tufo)(?:\s+\w+){0,3}?\s+(?:a|de)\s+gas\b"
    r"|\bescapes?\s+de\s+gas\b"
    r"|\b(?:sale|salia|saliendo|escapa|escapando)\s+(?:el\s+)?gas\b"
    r"|\bgas\s+(?:se\s+)?(?:esta\s+)?(?:saliendo|escapando)\b"
    r"|\bgas\s+se\s+(?:sale|escapa)\b"
)


def fold(text: str) -> str:
    """``Huele A GÁS`` and ``huele a gas`` compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def mentions_leak(text: str) -> bool:
    """Does the text tell of a gas leak? Then it is an emergency, not a request."""
    return LEAK.search(fold(text or "")) is not None


def kind_of(category: str) -> str:
    return (ServiceRequestKind.CLAIM.value if category in CLAIMS
            else ServiceRequestKind.REQUEST.value)


def answer_due(created_at: datetime, category: str) -> date:
    """The day the utility must answer by: the day it was filed, in Mexico, plus the
    calendar days ``OV_REQUEST_ANSWER_DAYS`` gives its type."""
    days = current_app.config["OV_REQUEST_ANSWER_DAYS"][category]
    return created_at.astimezone(LOCAL_TIME).date() + timedelta(days=days)


class TextError(ValueError):
    """A description or a comment the customer must write again; the message says why."""


def clean_text(value: str | None, *, low: int, high: int, what: str) -> str:
    """The text as stored: line ends as ``\\n``, trimmed; refused when too short, too long
    or holding control characters (a tab or a line break is fine)."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise TextError(f"Escribe {what}.")
    if any(unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co"} and char not in "\n\t"
           for char in text):
        raise TextError(f"{what[0].upper()}{what[1:]} tiene caracteres que no se pueden "
                        "escribir con el teclado. Escríbela de nuevo sin ellos.")
    if len(text) < low:
        raise TextError(f"Escribe {what} con al menos {low} caracteres.")
    if len(text) > high:
        raise TextError(f"{what[0].upper()}{what[1:]} tiene {len(text):,} caracteres; "
                        f"el máximo es {high:,}. Acórtala.")
    return text


def clean_description(value: str | None) -> str:
    return clean_text(value, low=DESCRIPTION_MIN, high=DESCRIPTION_MAX,
                      what="la descripción")


def clean_comment(value: str | None) -> str:
    return clean_text(value, low=COMMENT_MIN, high=COMMENT_MAX, what="tu comentario")


def file_request(user_id: int, account_id: int, category: str, description: str, *,
                 invoice_id: int | None = None, photo_id: int | None = None,
                 client_address: str | None = None,
                 now: datetime | None = None) -> ServiceRequest:
    """File what the customer wrote (already cleaned, on one of their contracts), with its
    folio and its answer-by date; audited without its text. Callers commit."""
    if category not in CATEGORY_LABELS:
        raise ValueError(f"unknown category {category!r}")
    created = now or utcnow()
    request = _file(ServiceRequest(
        account_id=account_id, user_id=user_id, kind=kind_of(category),
        subject=CATEGORY_LABELS[category], body=description,
        status=ServiceRequestStatus.RECEIVED.value, created_at=created, category=category,
        invoice_id=invoice_id, photo_id=photo_id, answer_due_on=answer_due(created, category),
    ), author=EventAuthor.CUSTOMER.value)
    audit.record("service_request_filed", user_id=user_id, client_address=client_address,
                 account_id=account_id, folio=request.folio, category=category,
                 invoice_id=invoice_id, photo=photo_id is not None)
    return request


#: A second identical submission within this time is the same request sent twice.
DUPLICATE_WINDOW = timedelta(minutes=10)


def same_request(user_id: int, account_id: int, category: str, description: str, *,
                 invoice_id: int | None, now: datetime | None = None) -> ServiceRequest | None:
    """The user's open request with exactly these answers filed moments ago (a double tap
    of the button, the form sent again from the history), if any.

    Takes the user's turn first (held until the caller commits), so that the same form sent
    twice at once files once: the second finds the first's request."""
    take_turns(user_id)
    since = (now or utcnow()) - DUPLICATE_WINDOW
    return db.session.scalars(
        select(ServiceRequest)
        .where(ServiceRequest.user_id == user_id, ServiceRequest.account_id == account_id,
               ServiceRequest.category == category, ServiceRequest.body == description,
               ServiceRequest.invoice_id.is_(None) if invoice_id is None
               else ServiceRequest.invoice_id == invoice_id,
               ServiceRequest.status.in_(OPEN), ServiceRequest.created_at >= since)
        .order_by(ServiceRequest.id).limit(1)
    ).first()


def is_open(request: ServiceRequest) -> bool:
    return request.status in OPEN


def add_comment(request: ServiceRequest, text: str, *, client_address: str | None = None,
                now: datetime | None = None) -> ServiceRequestEvent:
    """The customer's comment (already cleaned) on their open request: an event with the
    current status, told to nobody (staff read it with ``requests show``). A resolved or
    closed request takes no more comments (:class:`RequestError`), checked with the row
    locked and read again: a comment sent while staff close it is refused. Callers commit."""
    hold(request)
    if not is_open(request):
        raise RequestError(
            f"Tu {KIND_WORDS.get(request.kind, 'solicitud')} {request.folio} ya está "
            f"{status_agreed(request)}: no admite más comentarios. Si necesitas algo más, abre "
            "una nueva solicitud.")
    event = ServiceRequestEvent(at=now or utcnow(), status=request.status, note=text,
                                author=EventAuthor.CUSTOMER.value)
    request.events.append(event)
    db.session.flush()
    audit.record("service_request_comment", user_id=request.user_id,
                 client_address=client_address, folio=request.folio)
    return event


def type_label(request: ServiceRequest) -> str:
    """``Aclaración de factura``; a bill-format request says its format."""
    if request.topic == BILL_FORMAT:
        return f"Factura en formato accesible ({FORMAT_LABELS.get(request.detail, '')})"
    return CATEGORY_LABELS.get(request.category or "", request.subject)


def author_word(author: str) -> str:
    if author == EventAuthor.STAFF.value:
        return current_app.config["OV_UTILITY_NAME"]
    return AUTHOR_WORDS.get(author, AUTHOR_WORDS[EventAuthor.PORTAL.value])


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
    note = _clean_note(note)
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
        made = _tell_status(request)
    if made is not None and made.mail is not None:
        changed.mails.append(made.mail)
    return changed


def _clean_note(note: str) -> str:
    """The note as kept, its line breaks too (the request page shows its paragraphs)."""
    note = tidy_lines(note)
    if any(unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co"} and char != "\n"
           for char in note):
        raise RequestError("La nota tiene caracteres de control; escríbela de nuevo sin ellos.")
    if len(note) > COMMENT_MAX:
        raise RequestError(f"La nota tiene {len(note):,} caracteres; el máximo es "
                           f"{COMMENT_MAX:,}.")
    return note


def _what(request: ServiceRequest) -> str:
    return KIND_WORDS.get(request.kind, "solicitud")


def _tell_status(request: ServiceRequest) -> notices.Notified | None:
    """A customer's request or claim has a new status: the notice says the folio, the
    status and staff's note, and leads to the request's page (once per folio and status)."""
    if request.topic is not None:
        return notices.request_status_changed(request)
    if request.user_id is None:
        return None
    user = db.session.get(User, request.user_id)
    word = status_word(request)
    note = request.events[-1].note if request.events else ""
    utility = current_app.config["OV_UTILITY_NAME"]
    return notices.notify(
        user, notices.REQUEST_STATUS, f"{request.folio}:{request.status}",
        account_id=request.account_id,
        title=f"Tu {_what(request)} {request.folio} está {word}",
        body=(f"Tu {_what(request)} «{type_label(request)}» (folio {request.folio}) ahora "
              f"está {word}." + (f" {utility} te responde: {note}" if note else "")),
        action=(f"Ver mi {_what(request)}",
                mail.external_url("office.request", request_id=request.id)),
    )


def add_note(folio: str, note: str, *, now: datetime | None = None) -> StatusChanged:
    """Staff answer on a request without moving it (``requests update FOLIO --note``): an
    event with its status, audited, told to the customer like a status change. A closed
    request takes no more notes."""
    request = find(folio)
    note = _clean_note(note)
    if not note:
        raise RequestError("Escribe la nota con --note, o cambia el estado con --status.")
    if request.status == ServiceRequestStatus.CLOSED.value:
        raise RequestError(f"La solicitud {request.folio} ya está cerrada: no admite notas.")
    event = ServiceRequestEvent(at=now or utcnow(), status=request.status, note=note,
                                author=EventAuthor.STAFF.value)
    request.events.append(event)
    db.session.flush()
    audit.record("service_request_note", user_id=request.user_id, folio=request.folio,
                 status=request.status, by="staff")
    changed = StatusChanged(request)
    if request.user_id is not None:
        user = db.session.get(User, request.user_id)
        utility = current_app.config["OV_UTILITY_NAME"]
        made = notices.notify(
            user, notices.REQUEST_STATUS, f"{request.folio}:nota:{event.id}",
            account_id=request.account_id,
            title=f"Tenemos una respuesta a tu {_what(request)} {request.folio}",
            body=(f"Sobre tu {_what(request)} «{type_label(request)}» (folio "
                  f"{request.folio}), que sigue {status_word(request)}, {utility} te "
                  f"responde: {note}"),
            action=(f"Ver mi {_what(request)}",
                    mail.external_url("office.request", request_id=request.id)),
        )
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


# --- staff: one request whole, and the export for the utility's CRM --------------------------

def category_name(request: ServiceRequest) -> str:
    """The type as staff and the CRM read it: the category, or the portal's topic."""
    return request.category or request.topic or ""


def invoice_number(request: ServiceRequest) -> str | None:
    if request.invoice_id is None:
        return None
    return db.session.scalar(select(Invoice.number).where(Invoice.id == request.invoice_id))


EXPORT_FIELDS = ("folio", "creada", "actualizada", "estado", "categoria", "tipo", "zona",
                 "contrato", "factura", "responder_a_mas_tardar", "descripcion", "eventos")


def export_rows(since: date, limit: int | None = None) -> list[dict[str, object]]:
    """Every request filed since ``since`` (a day in Mexico), oldest first, one row each
    with :data:`EXPORT_FIELDS` (dates ISO 8601, UTC times; estado and categoria as stable
    codes: ``in_progress``, ``bill_clarification``); one query."""
    start = datetime(since.year, since.month, since.day, tzinfo=LOCAL_TIME)
    events = (select(ServiceRequestEvent.request_id,
                     func.count(ServiceRequestEvent.id).label("count"),
                     func.max(ServiceRequestEvent.at).label("last"))
              .group_by(ServiceRequestEvent.request_id).subquery())
    query = (
        select(ServiceRequest, Account.number, Account.check_digit, Zone.name, Invoice.number,
               events.c.count, events.c.last)
        .join(Account, Account.id == ServiceRequest.account_id)
        .join(Zone, Zone.id == Account.zone_id)
        .outerjoin(Invoice, Invoice.id == ServiceRequest.invoice_id)
        .outerjoin(events, events.c.request_id == ServiceRequest.id)
        .where(ServiceRequest.created_at >= start)
        .order_by(ServiceRequest.created_at, ServiceRequest.id)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = []
    for request, number, digit, zone, invoice, count, last in db.session.execute(query):
        last_at = _aware(last) if last is not None else request.created_at
        rows.append({
            "folio": request.folio,
            "creada": request.created_at.astimezone(UTC).isoformat(),
            "actualizada": last_at.astimezone(UTC).isoformat(),
            "estado": request.status,  # a stable code, as categoria
            "categoria": category_name(request),
            "tipo": KIND_WORDS.get(request.kind, request.kind),
            "zona": zone,
            "contrato": f"{number}-{digit}",
            "factura": invoice,
            "responder_a_mas_tardar": (request.answer_due_on.isoformat()
                                       if request.answer_due_on else None),
            "descripcion": request.body,
            "eventos": count or 0,
        })
    return rows


def _aware(value: datetime) -> datetime:
    """A time from an aggregate (SQLite gives it back without the column's type)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
