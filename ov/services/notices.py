"""Notices ("avisos"): the user's own messages, those events make, and zone-wide notices.

A user's notices are reached through the user's ``Scope`` (ov.services.office): a notice of
another customer is not found. Zone-wide notices (maintenance, interruptions) are posted by
staff with ``flask --app ov notice add`` and shown while current. Callers commit.

An event makes a notice with one call, once per user, kind and key, and a mail through the
outbox when the user gets that kind by email::

    made = notices.notify(user, notices.EMAIL_UNCONFIRMED, key, title=..., body=...)
    db.session.commit()
    if made and made.mail:
        mail.deliver_soon(made.mail)

Each kind of event (a new invoice, a payment applied, a request's new status, a reading
period, a preference request done) is a ``Kind`` here, mailed when the user chose that kind
in Mis datos > Preferencias, and has a function that makes its notice keyed by what makes it
one event (the invoice's zone and number, the payment's id, the request's folio and status,
the contract and the period's first day): ``new_invoice(invoice)``,
``payment_applied(payment)``, ``request_status_changed(request)``,
``reading_period(account, (first, last))``, ``preference_done(request, ...)``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ov.extensions import db
from ov.formatting import LOCAL_TIME, day, moment, money
from ov.models import (
    Account,
    Invoice,
    Notice,
    OutboxMail,
    Payment,
    ServiceRequest,
    User,
    UserAccount,
    Zone,
    ZoneNotice,
    utcnow,
)
from ov.services import mail
from ov.services.office import Scope

#: What staff type for a notice meant for every zone.
ALL_ZONES = "todas"
ALL_ZONES_LABEL = "Todas las zonas"
#: How staff type a start or an end: Mexico City time, to the minute.
LOCAL_FORMAT = "%Y-%m-%d %H:%M"
TITLE_MAX = 120
TEXT_MAX = 2000


class NoticeError(ValueError):
    """A zone notice that cannot be posted or ended; the message says why, in Spanish."""


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


# --- notices made by events --------------------------------------------------------------

def _notices_by_mail(user: User) -> bool:
    """The step-3 choice "avisos por correo" as registration stored it: the reminder to
    confirm the email follows it (the event kinds below each follow their own column)."""
    return bool(user.email_notices)


@dataclass(frozen=True)
class Kind:
    """A kind of event notice: its stored name, and whether a user gets it by email."""

    name: str
    by_mail: Callable[[User], bool] = _notices_by_mail


EMAIL_UNCONFIRMED = Kind("email_unconfirmed")
# The kinds a user chooses one by one in Mis datos > Preferencias (registration's "avisos"
# choice sets all four). A preference request done is a request's outcome: notify_request.
# A new bill is also mailed to whoever chose the paperless bill: the mail is their bill.
NEW_INVOICE = Kind("new_invoice",
                   lambda user: bool(user.notify_invoice) or bool(user.paperless_bill))
PAYMENT_APPLIED = Kind("payment_applied", lambda user: bool(user.notify_payment))
REQUEST_STATUS = Kind("request_status", lambda user: bool(user.notify_request))
READING_PERIOD = Kind("reading_period", lambda user: bool(user.notify_reading))
PREFERENCE_DONE = Kind("preference_done", lambda user: bool(user.notify_request))


@dataclass(frozen=True)
class Notified:
    """A notice just made, and its mail when the user gets that kind by email."""

    notice: Notice
    mail: OutboxMail | None


def _exists(user_id: int, kind: str, key: str) -> bool:
    return db.session.scalar(
        select(Notice.id).where(Notice.user_id == user_id, Notice.kind == kind,
                                Notice.key == key).limit(1)
    ) is not None


def notify(user: User, kind: Kind, key: str, *, title: str, body: str,
           account_id: int | None = None,
           action: tuple[str, str] | None = None) -> Notified | None:
    """Make the user's notice for this event, unless it exists or the user is cancelled:
    None then.

    Once per (user, kind, key), even when two requests run at once: the insert runs in a
    savepoint, and the unique constraint refuses the second (no notice, no mail). The mail
    (``action``: a button's label and link, for what the notice asks) is queued in the
    caller's transaction, so it exists only if the notice does. The caller commits.
    """
    if user.blocked_at is not None:  # cancelled: nothing more is told to it
        return None
    if user.id is None:
        db.session.flush()
    if _exists(user.id, kind.name, key):
        return None
    notice = Notice(user_id=user.id, account_id=account_id, kind=kind.name, key=key,
                    title=title, body=body, created_at=utcnow())
    notice.link, notice.link_label = _office_link(action)
    try:
        with db.session.begin_nested():
            db.session.add(notice)
    except IntegrityError:
        return None  # another request made it between the check and the insert
    queued = None
    if kind.by_mail(user):
        queued = mail.queue(user.email, f"Aviso: {title}", "notice", user=user, title=title,
                            body=body, action=action,
                            notices_url=mail.external_url("office.notices"))
    return Notified(notice, queued)


OFFICE_PATH = "/mi-oficina/"


def _office_link(action: tuple[str, str] | None) -> tuple[str | None, str | None]:
    """The notice's own link in Avisos: the action's address when it is a page of Mi oficina
    (a request, a reading, the preferences), as a path; never a link carrying a token (to
    confirm an address, to undo a change), which belongs in the mail alone."""
    if action is None:
        return None, None
    label, url = action
    parts = urlsplit(url)
    if not parts.path.startswith(OFFICE_PATH) or parts.query or parts.fragment:
        return None, None
    return parts.path[:200], label[:60]


def _address_key(address: str) -> str:
    return hashlib.sha256(address.strip().casefold().encode()).hexdigest()


def remind_unconfirmed_email(user: User) -> Notified | None:
    """While the user's email is unconfirmed: a notice asking to confirm it (once per
    address), with a fresh link in its mail."""
    if user.email_confirmed_at is not None:
        return None
    return notify(
        user, EMAIL_UNCONFIRMED, _address_key(user.email),
        title="Confirma tu correo electrónico",
        body=(f"Aún no confirmas tu correo {user.email}. Abre el enlace que te enviamos para "
              "confirmarlo: así podremos mandarte tus avisos y ayudarte si olvidas tu "
              "contraseña. Si no te llegó, pide otro con «Reenviar el correo»."),
        action=("Confirmar mi correo", mail.confirm_url(user)),
    )


def email_confirmed(user_id: int, now: datetime | None = None) -> int:
    """The user's email is confirmed: its reminders have nothing more to ask, and stop
    counting as unread. How many there were."""
    result = db.session.execute(
        update(Notice)
        .where(Notice.user_id == user_id, Notice.kind == EMAIL_UNCONFIRMED.name,
               Notice.read_at.is_(None))
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# --- the events of billing, requests and readings ----------------------------------------

def _owner(account_id: int) -> User | None:
    """The user linked to the contract (one per contract), if any."""
    return db.session.scalars(
        select(User).join(UserAccount, UserAccount.user_id == User.id)
        .where(UserAccount.account_id == account_id)
    ).first()


def new_invoice(invoice: Invoice) -> Notified | None:
    """A new bill for a contract someone registered: once per invoice (zone and number)."""
    user = _owner(invoice.account_id)
    if user is None:
        return None
    account = invoice.account or db.session.get(Account, invoice.account_id)
    return notify(
        user, NEW_INVOICE, f"{invoice.zone_id}:{invoice.number}", account_id=invoice.account_id,
        title=f"Tienes una nueva factura del contrato {account.printed_number}",
        body=(f"Tu factura {invoice.number} del {day(invoice.period_start)} al "
              f"{day(invoice.period_end)} es de {money(invoice.total)} y vence el "
              f"{day(invoice.due_date)}."),
        action=("Ver mi factura", mail.external_url("office.invoice", invoice_id=invoice.id)),
    )


def payment_applied(payment: Payment) -> Notified | None:
    """A payment applied to a registered contract: once per payment."""
    user = _owner(payment.account_id)
    if user is None:
        return None
    account = db.session.get(Account, payment.account_id)
    paid_for = (f" a tu factura {payment.invoice.number}" if payment.invoice is not None
                else "")
    return notify(
        user, PAYMENT_APPLIED, f"payment:{payment.id}", account_id=payment.account_id,
        title=f"Aplicamos tu pago de {money(payment.amount)}",
        body=(f"Aplicamos tu pago de {money(payment.amount)} del {day(payment.paid_on)} "
              f"({payment.channel_name}){paid_for}, del contrato {account.printed_number}. "
              "Gracias."),
        action=("Ver mis pagos", mail.external_url("office.payments")),
    )


#: A request's status as the customer reads it.
REQUEST_STATUS_WORDS = {"received": "recibida", "in_progress": "en proceso",
                        "resolved": "resuelta", "closed": "cerrada"}


def request_status_changed(request: ServiceRequest) -> Notified | None:
    """A request's new status, for the user who filed it: once per folio and status."""
    if request.user_id is None:
        return None
    user = db.session.get(User, request.user_id)
    word = REQUEST_STATUS_WORDS.get(request.status, request.status)
    note = request.events[-1].note if request.events and request.events[-1].note else ""
    return notify(
        user, REQUEST_STATUS, f"{request.folio}:{request.status}",
        account_id=request.account_id,
        title=f"Tu solicitud {request.folio} está {word}",
        body=(f"Tu solicitud «{request.subject}» (folio {request.folio}) ahora está {word}."
              + (f" Nota: {note}" if note else "")),
        action=("Ver mis solicitudes", mail.external_url("office.requests")),
    )


def preference_done(request: ServiceRequest, *, title: str, body: str) -> Notified | None:
    """A preference the user asked for (a request with a topic) is done: once per folio."""
    if request.user_id is None:
        return None
    user = db.session.get(User, request.user_id)
    return notify(user, PREFERENCE_DONE, request.folio, account_id=request.account_id,
                  title=title, body=body,
                  action=("Ver mis preferencias",
                          mail.external_url("office.preferences")))


def reading_period(account: Account, dates: tuple[date, date]) -> Notified | None:
    """The days when the customer may give their meter reading: once per contract and
    period (its first day)."""
    user = _owner(account.id)
    if user is None:
        return None
    starts, ends = dates
    return notify(
        user, READING_PERIOD, f"{account.id}:{starts.isoformat()}", account_id=account.id,
        title=f"Ya puedes darnos la lectura de tu medidor del contrato {account.printed_number}",
        body=(f"Del {day(starts)} al {day(ends)} puedes darnos la lectura de tu medidor "
              f"del contrato {account.printed_number}: así tu factura será por lo que "
              "realmente consumiste."),
        action=("Ir a Mis consumos", mail.external_url("office.consumption")),
    )


# --- zone-wide service notices -------------------------------------------------------------

def _fold(text: str) -> str:
    """``Bajío Norte`` and ``bajio norte`` compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def find_zone(name: str) -> Zone | None:
    """The zone staff named (letter case and accents aside); None for every zone."""
    if _fold(name) == ALL_ZONES:
        return None
    zones = list(db.session.scalars(select(Zone).order_by(Zone.name)))
    for zone in zones:
        if _fold(zone.name) == _fold(name):
            return zone
    known = ", ".join(zone.name for zone in zones)
    raise NoticeError(f"No hay ninguna zona «{name.strip()}». Las zonas son: {known} "
                      f"(o «{ALL_ZONES}»).")


MIN_YEAR, MAX_YEAR = 2000, 2099


def parse_local(text: str, label: str) -> datetime:
    """A moment typed as ``AAAA-MM-DD HH:MM`` in Mexico City time, in UTC."""
    wrong = NoticeError(
        f"La fecha {label} «{text.strip()}» no es válida: escríbela como AAAA-MM-DD HH:MM, "
        "en hora de la Ciudad de México (por ejemplo 2026-12-02 09:00)."
    )
    try:
        local = datetime.strptime(text.strip(), LOCAL_FORMAT)
    except ValueError:
        raise wrong from None
    if not MIN_YEAR <= local.year <= MAX_YEAR:  # also keeps the UTC conversion in range
        raise NoticeError(f"La fecha {label} «{text.strip()}» está fuera de los años "
                          f"{MIN_YEAR} a {MAX_YEAR}.")
    return local.replace(tzinfo=LOCAL_TIME).astimezone(utcnow().tzinfo)


def _text(value: str, name: str, limit: int, *, one_line: bool = False) -> str:
    """``name`` is how the message calls it: ``el título (--titulo)``."""
    value = " ".join(value.split()) if one_line else value.strip()
    odd = next((c for c in value if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cs")),
               None)
    if odd is not None:  # a control code or a byte the terminal could not read as UTF-8
        raise NoticeError(f"{name[0].upper()}{name[1:]} tiene un carácter que no se puede "
                          f"mostrar (U+{ord(odd):04X}); escríbelo de nuevo sin él.")
    if not value:
        raise NoticeError(f"Falta {name}.")
    if len(value) > limit:
        raise NoticeError(f"{name[0].upper()}{name[1:]} tiene {len(value)} caracteres; "
                          f"el máximo es {limit}.")
    return value


def post_zone_notice(*, zone: str, title: str, text: str, starts: str, ends: str,
                     now: datetime | None = None) -> ZoneNotice:
    """A new service notice for ``zone`` (or ``todas``), from ``starts`` to ``ends`` typed in
    Mexico City time; added to the session, not committed."""
    found = find_zone(zone)
    title = _text(title, "el título (--titulo)", TITLE_MAX, one_line=True)
    body = _text(text, "el texto (--texto)", TEXT_MAX)
    starts_at = parse_local(starts, "de inicio (--desde)")
    ends_at = parse_local(ends, "de fin (--hasta)")
    if ends_at <= starts_at:
        raise NoticeError("El fin (--hasta) debe ser posterior al inicio (--desde).")
    if ends_at <= (now or utcnow()):
        raise NoticeError(f"El aviso terminaría el {moment(ends_at)}, que ya pasó.")
    notice = ZoneNotice(zone=found, title=title, body=body, starts_at=starts_at,
                        ends_at=ends_at)
    db.session.add(notice)
    db.session.flush()
    return notice


def end_zone_notice(notice_id: int, now: datetime | None = None) -> ZoneNotice:
    """Take a notice down now; one that has not started will never show."""
    notice = db.session.get(ZoneNotice, notice_id)
    if notice is None:
        raise NoticeError(f"No hay ningún aviso de zona con el número {notice_id}.")
    now = now or utcnow()
    if notice.ends_at > now:
        notice.ends_at = max(now, notice.starts_at)
    return notice


def zone_notices(now: datetime | None = None, *, ended: bool = False) -> list[ZoneNotice]:
    """The notices staff list: current and upcoming ones (and those already over, with
    ``ended``), by start."""
    query = select(ZoneNotice).options(joinedload(ZoneNotice.zone))
    if not ended:  # (a notice ended before its start has no time left to show)
        query = query.where(ZoneNotice.ends_at > (now or utcnow()),
                            ZoneNotice.ends_at > ZoneNotice.starts_at)
    return list(db.session.scalars(query.order_by(ZoneNotice.starts_at, ZoneNotice.id)))


#: The home page's question on every visit, built once (building it cost more CPU than
#: running it): the notices current at ``now`` for ``zone_ids`` and for all zones.
_NOW = bindparam("now", type_=ZoneNotice.starts_at.type)
_CURRENT_FOR_ZONES = (
    select(ZoneNotice)
    .options(joinedload(ZoneNotice.zone))
    .outerjoin(ZoneNotice.zone)
    .where(ZoneNotice.starts_at <= _NOW, ZoneNotice.ends_at > _NOW,
           or_(ZoneNotice.zone_id.is_(None),
               ZoneNotice.zone_id.in_(bindparam("zone_ids", expanding=True))))
    .order_by(ZoneNotice.zone_id.is_not(None), Zone.name, ZoneNotice.starts_at, ZoneNotice.id)
)


def current_zone_notices(now: datetime | None = None,
                         zone_ids: Iterable[int] | None = None) -> list[ZoneNotice]:
    """The notices shown now (one query): of every zone, or only of ``zone_ids`` and those
    meant for all zones; those for all zones first, then by zone, then by start."""
    now = now or utcnow()
    if zone_ids is not None:
        return list(db.session.scalars(
            _CURRENT_FOR_ZONES, {"now": now, "zone_ids": list(zone_ids)}
        ))
    query = (
        select(ZoneNotice)
        .options(joinedload(ZoneNotice.zone))
        .outerjoin(ZoneNotice.zone)
        .where(ZoneNotice.starts_at <= now, ZoneNotice.ends_at > now)
        .order_by(ZoneNotice.zone_id.is_not(None), Zone.name, ZoneNotice.starts_at,
                  ZoneNotice.id)
    )
    return list(db.session.scalars(query))


def state(notice: ZoneNotice, now: datetime) -> str:
    """``vigente``, ``próximo`` or ``terminado``, as the staff listing says it."""
    if notice.ends_at <= now or notice.ends_at == notice.starts_at:
        return "terminado"
    return "vigente" if notice.starts_at <= now else "próximo"


def zone_label(notice: ZoneNotice) -> str:
    return notice.zone.name if notice.zone else ALL_ZONES_LABEL


def by_zone(notices_: Iterable[ZoneNotice]) -> list[tuple[str, list[ZoneNotice]]]:
    """Notices in the order given, grouped under their zone's name."""
    groups: dict[str, list[ZoneNotice]] = {}
    for notice in notices_:
        groups.setdefault(zone_label(notice), []).append(notice)
    return list(groups.items())
