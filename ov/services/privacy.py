"""The customer's rights under the personal-data law (LFPDPPP 2025): access, rectification,
cancellation and opposition ("derechos ARCO").

* **Access** is a download at once: ``export`` gathers everything the portal holds about a
  user in a fixed number of queries, whatever the length of their history.
* **Rectification** and **opposition** are requests for the utility (``file_request``): a
  ``PrivacyRequest`` with a folio made from its row id (``ARCO-2026-000001``) and the legal
  dates, counted in calendar days of Mexico City from the day it was filed: the answer within
  ``OV_ARCO_ANSWER_DAYS``, what was granted carried out within ``OV_ARCO_CARRY_OUT_DAYS``
  after that. (The law counts working days; calendar days never come later.)
* **Cancellation** of the portal user (``cancel``): blocked at once (no session, no sign-in,
  no recovery), its contract links removed so the contracts can be registered again, and the
  user deleted once ``OV_CANCEL_BLOCK_DAYS`` have passed (``purge_cancelled``, run from cron).
  The billing data belongs to the utility and stays; so do the records the utility must be
  able to show (requests, readings, the audit trail), with their ``user_id`` emptied.

No request objects here: callers pass the client address and commit.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, or_, select, union, update
from sqlalchemy.orm import joinedload, selectinload

from ov.extensions import db
from ov.formatting import LOCAL_TIME, day
from ov.models import (
    Account,
    AccountChange,
    AuditEvent,
    Notice,
    OutboxMail,
    Photo,
    PrivacyRequest,
    ReadingSubmission,
    ServiceRequest,
    User,
    UserAccount,
    email_key,
    utcnow,
)
from ov.models.portal import PrivacyRight, ServiceRequestStatus
from ov.services import account_changes, audit, contracts, mail
from ov.services.validation import FieldError

__all__ = ["PrivacyRight"]

TEXT_LENGTH = 1000
#: Rectification and opposition requests one user may file in a day (each sends a mail).
DAILY_REQUESTS = 10
FOLIO_PREFIX = "ARCO"

#: The purposes of the Aviso de privacidad (section 3), as a customer may oppose them.
PURPOSES: tuple[tuple[str, str], ...] = (
    ("encuestas", "Invitarte a encuestas de satisfacción sobre nuestro servicio."),
    ("promociones", "Enviarte promociones e información sobre productos y servicios "
                    "relacionados con el gas natural."),
    ("avisos", "Enviarte avisos sobre tu servicio, por ejemplo cortes programados o cambios "
               "en tu cuenta."),
    ("solicitudes", "Atender tus solicitudes, reclamos y consultas, y avisarte de su avance."),
    ("seguridad", "Proteger tu cuenta y el portal: detectar accesos indebidos, prevenir "
                  "fraudes y conservar un registro de seguridad."),
    ("otra", "Otra finalidad (descríbela abajo)."),
)
#: The data a customer may ask to correct.
CORRECTABLE: tuple[tuple[str, str], ...] = (
    ("titular", "Nombre de la persona titular del contrato"),
    ("domicilio", "Domicilio del servicio o de entrega de la factura"),
    ("correo", "Correo electrónico"),
    ("telefono", "Teléfono"),
    ("lecturas", "Lecturas o consumos"),
    ("otro", "Otro dato"),
)
RIGHT_LABELS = {
    PrivacyRight.RECTIFICATION.value: "Rectificación",
    PrivacyRight.OPPOSITION.value: "Oposición",
    PrivacyRight.CANCELLATION.value: "Cancelación",
}
STATUS_LABELS = {
    ServiceRequestStatus.RECEIVED.value: "Recibida",
    ServiceRequestStatus.IN_PROGRESS.value: "En trámite",
    ServiceRequestStatus.RESOLVED.value: "Atendida",
    ServiceRequestStatus.CLOSED.value: "Cerrada",
}
CANCELLATION_TEXT = "Cancelar mi usuario de la Oficina Virtual."
#: The cancellation's own mails are queued a moment after the user is blocked.
CANCEL_MAILS_WITHIN = timedelta(minutes=1)
OPEN_STATUSES = (ServiceRequestStatus.RECEIVED.value, ServiceRequestStatus.IN_PROGRESS.value)


# --- rules ----------------------------------------------------------------------------------

def clean_text(value: str | None, *, required: str | None) -> str:
    """A request's free text: trimmed, line breaks kept, up to ``TEXT_LENGTH`` characters.
    ``required``: the message when it is empty (None: it may be empty)."""
    text = unicodedata.normalize("NFC", (value or "").replace("\r\n", "\n").replace("\r", "\n"))
    # Control characters and code points with no character are refused; format characters
    # (Cf) stay: people paste them in names and emoji (a soft hyphen, a zero-width joiner).
    if any(unicodedata.category(ch) in {"Cc", "Cn", "Cs", "Co"} and ch not in "\n\t"
           for ch in text):
        raise FieldError(
            "Tiene caracteres que no se pueden escribir con el teclado. Escríbelo de nuevo."
        )
    text = text.strip()
    if not text and required:
        raise FieldError(required)
    if len(text) > TEXT_LENGTH:
        raise FieldError(f"Puede tener hasta {TEXT_LENGTH} caracteres; el que escribiste tiene "
                         f"{len(text)}.")
    return text


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TIME).date()


def legal_dates(moment: datetime) -> tuple[date, date]:
    """When the answer is due, and by when what was granted is carried out, for a request
    filed at ``moment`` (calendar days from that day in Mexico City)."""
    config = current_app.config
    answer = local_day(moment) + timedelta(days=int(config["OV_ARCO_ANSWER_DAYS"]))
    return answer, answer + timedelta(days=int(config["OV_ARCO_CARRY_OUT_DAYS"]))


def folio_for(request: PrivacyRequest) -> str:
    """``ARCO-2026-000001``: the year it was filed in Mexico City and its row id (unique)."""
    return f"{FOLIO_PREFIX}-{local_day(request.created_at).year}-{request.id:06d}"


# --- requests -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filed:
    """A request filed: the row, the mail to the user and the one to the privacy office."""

    request: PrivacyRequest
    mail: OutboxMail  # to the user
    office: OutboxMail  # to the privacy office

    @property
    def mails(self) -> list[OutboxMail]:
        return [self.mail, self.office]


def _new_request(user: User, right: PrivacyRight, body: str, now: datetime,
                 status: str = ServiceRequestStatus.RECEIVED.value) -> PrivacyRequest:
    answer, carry_out = legal_dates(now)
    # The folio comes from the row id: a placeholder no one sees holds the unique column
    # until the insert gives the id (both inside the caller's transaction).
    row = PrivacyRequest(folio="tmp-" + secrets.token_hex(6), user_id=user.id,
                         kind=right.value, body=body, created_at=now, answer_due_on=answer,
                         carry_out_by=carry_out, status=status)
    db.session.add(row)
    db.session.flush()
    row.folio = folio_for(row)
    return row


def file_request(user: User, right: PrivacyRight, body: str, *, client_address: str | None,
                 now: datetime | None = None) -> Filed:
    """Record a rectification or opposition request (``body`` already cleaned), audited, and
    mail its folio and dates to the user; the caller commits and sends the mail."""
    now = now or utcnow()
    row = _new_request(user, right, body, now)
    audit.record("privacy_request_filed", user_id=user.id, client_address=client_address,
                 folio=row.folio, right=right.value)
    return Filed(row, mail.queue(
        user.email, f"Recibimos tu solicitud {row.folio} sobre tus datos personales",
        "privacy_request", user=user, folio=row.folio, right=RIGHT_LABELS[row.kind],
        body=body, filed=mail.local_datetime(now), answer_due=day(row.answer_due_on),
        carry_out=day(row.carry_out_by),
    ), tell_office(user, row))


def tell_office(user: User, row: PrivacyRequest) -> OutboxMail:
    """The utility's privacy office hears of every request filed (``OV_PRIVACY_EMAIL``): it
    answers them, and ``flask privacy list`` shows them."""
    return mail.queue(
        current_app.config["OV_PRIVACY_EMAIL"],
        f"Solicitud ARCO {row.folio} ({RIGHT_LABELS[row.kind]})", "privacy_office",
        user=user, folio=row.folio, right=RIGHT_LABELS[row.kind], body=row.body,
        filed=mail.local_datetime(row.created_at), answer_due=day(row.answer_due_on),
        carry_out=day(row.carry_out_by),
    )


def requests_of(user_id: int) -> list[PrivacyRequest]:
    """The user's privacy requests, newest first (one query)."""
    return list(db.session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.user_id == user_id)
        .order_by(PrivacyRequest.id.desc())
    ))


def request_of(user_id: int, request_id: int) -> PrivacyRequest | None:
    """One of the user's requests; None for another customer's, or none."""
    return db.session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.id == request_id,
                                     PrivacyRequest.user_id == user_id)
    ).first()


# --- the privacy office's side -------------------------------------------------------------

#: The statuses as the privacy office types them (``flask privacy update --status``).
STATUS_NAMES = {
    "recibida": ServiceRequestStatus.RECEIVED.value,
    "en-proceso": ServiceRequestStatus.IN_PROGRESS.value,
    "resuelta": ServiceRequestStatus.RESOLVED.value,
    "cerrada": ServiceRequestStatus.CLOSED.value,
}


class PrivacyError(Exception):
    """A command the privacy office typed that cannot be done (a Spanish message)."""


def listing(open_only: bool = False) -> list[tuple[PrivacyRequest, str | None]]:
    """Every request (or the open ones), oldest first, with its user's name (one query)."""
    query = (select(PrivacyRequest, User.username)
             .outerjoin(User, User.id == PrivacyRequest.user_id).order_by(PrivacyRequest.id))
    if open_only:
        query = query.where(PrivacyRequest.status.in_(OPEN_STATUSES))
    return [(row, username) for row, username in db.session.execute(query)]


def set_status(folio: str, status: str, note: str = "") -> PrivacyRequest:
    """Move the request ``folio`` to ``status`` (one of ``STATUS_NAMES``), audited with the
    note; the caller commits."""
    value = STATUS_NAMES.get(status.strip().casefold())
    if value is None:
        raise PrivacyError(f"No conozco el estado «{status}». Usa uno de estos: "
                           f"{', '.join(STATUS_NAMES)}.")
    row = db.session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.folio == folio.strip().upper())
    ).first()
    if row is None:
        raise PrivacyError(f"No hay ninguna solicitud con el folio {folio}.")
    if row.status == value:
        raise PrivacyError(f"La solicitud {row.folio} ya está {STATUS_LABELS[value]}.")
    before, row.status = row.status, value
    audit.record("privacy_request_status", user_id=row.user_id, folio=row.folio,
                 before=before, status=value, note=note.strip())
    return row


# --- access: the download -------------------------------------------------------------------

def _when(moment: datetime | None) -> str | None:
    return moment.astimezone(LOCAL_TIME).isoformat(timespec="seconds") if moment else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _user(user: User) -> dict[str, Any]:
    return {
        "usuario": user.username,
        "contrasena": "Guardada cifrada (como un hash argon2): nadie puede leerla, ni "
                      "siquiera nuestro personal, y no se incluye aquí.",
        "correo_electronico": user.email,
        "correo_confirmado_el": _when(user.email_confirmed_at),
        "correo_nuevo_por_confirmar": user.pending_email,
        "correo_nuevo_pedido_el": _when(user.pending_email_at),
        "telefono": user.phone,
        "registrado_el": _when(user.created_at),
        "ultima_entrada": _when(user.last_login_at),
        "entrada_anterior": _when(user.previous_login_at),
        "contrasena_cambiada_el": _when(user.password_changed_at),
        "intentos_fallidos_seguidos": user.failed_logins,
        "bloqueado_hasta": _when(user.locked_until),
        "sesiones_cerradas_el": _when(user.sessions_ended_at),
        "aviso_legal_aceptado": {"version": user.legal_version_accepted,
                                 "el": _when(user.legal_accepted_at)},
    }


def _preferences(user: User) -> dict[str, Any]:
    return {
        "factura_electronica": user.paperless_bill,
        "avisos_por_correo": user.email_notices,
        "avisos_de_factura": user.notify_invoice,
        "avisos_de_pago": user.notify_payment,
        "avisos_de_solicitudes": user.notify_request,
        "avisos_de_lectura": user.notify_reading,
    }


def _contract(link: UserAccount) -> dict[str, Any]:
    account = link.account
    return {
        "zona": account.zone.name,
        "numero_de_cuenta": account.printed_number,
        "nombre": link.alias,
        "formato_de_factura": link.bill_format,
        "vinculado_desde": _when(link.linked_at),
    }


def _service_request(row: ServiceRequest) -> dict[str, Any]:
    return {
        "folio": row.folio, "tipo": row.kind, "asunto": row.subject, "texto": row.body,
        "estado": row.status, "creada_el": _when(row.created_at), "tema": row.topic,
        "detalle": row.detail, "categoria": row.category, "factura": row.invoice_id,
        "responder_a_mas_tardar_el": _day(row.answer_due_on), "foto": row.photo_id,
        "seguimiento": [{"el": _when(event.at), "estado": event.status, "nota": event.note,
                         "autor": event.author} for event in row.events],
    }


def _privacy_request(row: PrivacyRequest) -> dict[str, Any]:
    return {
        "folio": row.folio, "derecho": row.kind, "texto": row.body, "estado": row.status,
        "creada_el": _when(row.created_at), "respuesta_a_mas_tardar": _day(row.answer_due_on),
        "cumplimiento_a_mas_tardar": _day(row.carry_out_by),
    }


#: Events stored under the user that someone else may have caused (whoever tried to register
#: their contract, to sign in as them, to recover their access, or opened an undo link): the
#: download leaves out that person's IP address.
OTHERS_ADDRESS = frozenset({
    "registration_already_registered", "contract_already_registered", "login_failed",
    "account_locked", "password_reset_requested", "password_reset_throttled",
    "recovery_by_bill", "recovery_by_bill_refused", "account_change_undone",
})


def _event(row: AuditEvent) -> dict[str, Any]:
    return {"tipo": row.kind, "el": _when(row.at),
            "direccion_ip": None if row.kind in OTHERS_ADDRESS else row.client_address,
            "detalles": row.details}


def _addresses(user_id: int) -> list[str]:
    """The user's addresses whose mails are theirs, lower-cased (two queries): current,
    pending, and each one told of an account change.

    An address is one of those only while no other user that is not blocked has it now as
    their current or pending address (compared by ``email_key``): an old address of the
    user may be someone else's by now, and the outbox cannot tell whose each mail to it
    was, so the download shows none of them and the purge deletes none of them: nobody's
    mails are shown to, or deleted for, someone else.
    """
    own = db.session.execute(union(
        select(User.email, func.lower(User.email)).where(User.id == user_id),
        select(User.pending_email, func.lower(User.pending_email))
        .where(User.id == user_id, User.pending_email.is_not(None)),
        select(AccountChange.notified_email, func.lower(AccountChange.notified_email))
        .where(AccountChange.user_id == user_id),
    )).all()
    keys = {email_key(address) for address, _ in own}
    # Pending addresses have no key column: the few there are are folded here.
    others = db.session.execute(
        select(User.email_key, User.pending_email)
        .where(User.id != user_id, User.blocked_at.is_(None),
               or_(User.email_key.in_(keys), User.pending_email.is_not(None)))
    ).all()
    held = {key for key, _ in others} | {email_key(pending) for _, pending in others if pending}
    return sorted({lowered for address, lowered in own if email_key(address) not in held})


def _mails_to(user_id: int):
    return select(OutboxMail).where(func.lower(OutboxMail.to_address).in_(_addresses(user_id)))


def _all(query) -> list:
    return list(db.session.scalars(query))


def export(user: User, now: datetime | None = None) -> dict[str, Any]:
    """Everything the portal holds about ``user`` (twelve queries, whatever their history).
    Of the mails sent to them: the subject, the date and the address, not the text (it
    repeats what the rest of the file holds, with links that must not travel)."""
    mine = user.id
    links = _all(select(UserAccount)
                 .options(joinedload(UserAccount.account).joinedload(Account.zone))
                 .where(UserAccount.user_id == mine).order_by(UserAccount.id))
    requests = _all(select(ServiceRequest).options(selectinload(ServiceRequest.events))
                    .where(ServiceRequest.user_id == mine).order_by(ServiceRequest.id))
    readings = list(db.session.execute(
        select(ReadingSubmission, Account).join(Account, Account.id == ReadingSubmission.account_id)
        .where(ReadingSubmission.user_id == mine).order_by(ReadingSubmission.id)
    ))
    notices = list(db.session.execute(
        select(Notice, Account).outerjoin(Account, Account.id == Notice.account_id)
        .where(Notice.user_id == mine).order_by(Notice.id)
    ))
    sent_photos = list(db.session.execute(
        select(Photo, Account).join(Account, Account.id == Photo.account_id)
        .where(Photo.user_id == mine).order_by(Photo.id)
    ))
    changes = _all(select(AccountChange).where(AccountChange.user_id == mine)
                   .order_by(AccountChange.id))
    mails = _all(_mails_to(mine).order_by(OutboxMail.id))
    rights = _all(select(PrivacyRequest).where(PrivacyRequest.user_id == mine)
                  .order_by(PrivacyRequest.id))
    events = _all(select(AuditEvent).where(AuditEvent.user_id == mine).order_by(AuditEvent.id))
    return {
        "descripcion": "Los datos personales que la Oficina Virtual de "
                       f"{current_app.config['OV_UTILITY_LEGAL_NAME']} tiene sobre ti. Las "
                       "facturas, consumos y pagos de tus contratos están en el sistema de "
                       "facturación y los ves en Mi oficina.",
        "generado_el": _when(now or utcnow()),
        "usuario": _user(user),
        "contratos": [_contract(link) for link in links],
        "preferencias": _preferences(user),
        "solicitudes": [_service_request(row) for row in requests],
        "lecturas_enviadas": [
            {"contrato": account.printed_number, "fecha_de_lectura": _day(row.read_on),
             "lectura": row.value, "enviada_el": _when(row.submitted_at), "estado": row.status,
             "factura": row.invoice_id, "foto": row.photo_id, "confirmada": row.confirmed}
            for row, account in readings],
        # The photos themselves are shown in Mi oficina (the file is not repeated here).
        "fotos_enviadas": [
            {"foto": row.id, "contrato": account.printed_number,
             "enviada_el": _when(row.created_at), "ancho": row.width, "alto": row.height,
             "bytes": row.byte_size}
            for row, account in sent_photos],
        "avisos": [{"titulo": row.title, "texto": row.body, "creado_el": _when(row.created_at),
                    "leido_el": _when(row.read_at),
                    "contrato": account.printed_number if account else None}
                   for row, account in notices],
        "cambios_de_acceso": [
            {"tipo": row.kind, "avisado_a": row.notified_email, "el": _when(row.created_at),
             "deshecho_el": _when(row.spent_at)} for row in changes],
        "correos_enviados": [
            {"asunto": row.subject, "a": row.to_address, "el": _when(row.created_at),
             "enviado_el": _when(row.sent_at)} for row in mails],
        "solicitudes_arco": [_privacy_request(row) for row in rights],
        "eventos_de_seguridad": [_event(row) for row in events],
    }


def counts(user_id: int) -> dict[str, int]:
    """How many records of each kind the download holds (one query)."""
    def count(model, column):
        return (select(func.count()).select_from(model).where(column == user_id)
                .scalar_subquery())

    row = db.session.execute(select(
        count(UserAccount, UserAccount.user_id).label("contratos"),
        count(ServiceRequest, ServiceRequest.user_id).label("solicitudes"),
        count(ReadingSubmission, ReadingSubmission.user_id).label("lecturas_enviadas"),
        count(Photo, Photo.user_id).label("fotos_enviadas"),
        count(Notice, Notice.user_id).label("avisos"),
        count(PrivacyRequest, PrivacyRequest.user_id).label("solicitudes_arco"),
        count(AccountChange, AccountChange.user_id).label("cambios_de_acceso"),
        select(func.count()).select_from(_mails_to(user_id).subquery())
        .scalar_subquery().label("correos_enviados"),
        count(AuditEvent, AuditEvent.user_id).label("eventos_de_seguridad"),
    )).one()
    return dict(row._mapping)


# --- cancellation ---------------------------------------------------------------------------

class Cancelled(Filed):
    """A cancellation filed: its request and the same two mails as any other request."""


@dataclass(frozen=True)
class ChangeOpen:
    """Refused: the access changed lately, and the address told of it can still undo it
    until ``until`` (a bill-holder must not cancel the owner's way back away)."""
    until: datetime


CANCELLED_NOTE = "Cerrada: el usuario canceló su cuenta."


def cancel(user: User, *, client_address: str | None,
           now: datetime | None = None) -> Cancelled | ChangeOpen | None:
    """Cancel the user (the caller has checked the password): blocked from now on, deleted
    after ``OV_CANCEL_BLOCK_DAYS``; the contract links and the open requests on those
    contracts go at once. Audited, with a mail to the user and one to the privacy office;
    the caller commits, sends the mails and ends the session.

    No mail is deleted here, and a pending address stays on the row until the purge: it
    may be someone else's by now (a blocked user holds no address, so it is free for them),
    every link mailed to it refuses a cancelled user, and the purge deletes the mails to it
    by the rule of ``_addresses``.

    ``ChangeOpen`` while a recovery by bill can still be undone; None when the user is
    cancelled already (a second tab, a double click): nothing new then. The user's row is
    locked first on PostgreSQL, and blocking it is a conditional update, so two at once
    make one cancellation, and an added contract either lands before (and goes) or is
    refused (``contracts.add``).
    """
    now = now or utcnow()
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    until = account_changes.recovery_open_until(user.id)
    if until is not None:
        return ChangeOpen(until)
    delete_after = now + timedelta(days=int(current_app.config["OV_CANCEL_BLOCK_DAYS"]))
    blocked = db.session.execute(
        update(User).where(User.id == user.id, User.blocked_at.is_(None))
        .values(blocked_at=now, delete_after=delete_after)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not blocked:
        return None
    db.session.refresh(user)
    request = _new_request(user, PrivacyRight.CANCELLATION, CANCELLATION_TEXT, now,
                           status=ServiceRequestStatus.IN_PROGRESS.value)
    unlinked = sorted(db.session.scalars(
        delete(UserAccount).where(UserAccount.user_id == user.id)
        .returning(UserAccount.account_id).execution_options(synchronize_session=False)
    ))
    db.session.expire(user, ["links"])
    contracts.close_open_topics(user.id, unlinked, note=CANCELLED_NOTE,
                                client_address=client_address, now=now)
    audit.record("user_cancelled", user_id=user.id, client_address=client_address,
                 folio=request.folio, account_ids=unlinked,
                 delete_after=user.delete_after.isoformat())
    return Cancelled(request, mail.queue(
        user.email, "Cancelaste tu usuario de la Oficina Virtual", "user_cancelled",
        user=user, folio=request.folio, when=mail.local_datetime(now),
        delete_on=day(local_day(user.delete_after)),
    ), tell_office(user, request))


def latest_cancellation(user_id: int) -> PrivacyRequest | None:
    """The user's cancellation request, if any (what a second submit lands on)."""
    return db.session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.user_id == user_id,
                                     PrivacyRequest.kind == PrivacyRight.CANCELLATION.value)
        .order_by(PrivacyRequest.id.desc())
    ).first()


def purge_cancelled(now: datetime | None = None) -> int:
    """Delete the cancelled users whose blocking period is over; how many. Their notices,
    links and account changes go with them (the foreign keys cascade), and so do the mails
    sent to their addresses (current, pending, or told of a change), but for an address
    another user has now (``_addresses``); their requests, readings, the photos sent with
    them (the utility's record of what was claimed) and audit events stay with ``user_id``
    emptied, and the cancellation request is marked resolved. Running it
    again finds none."""
    now = now or utcnow()
    blocked = dict(db.session.execute(
        select(User.id, User.blocked_at).where(User.blocked_at.is_not(None),
                                               User.delete_after <= now)
    ).all())
    ids = list(blocked)
    if not ids:
        return 0
    # The outbox knows addresses, not users: the mails to the user's addresses up to its
    # cancellation (nothing is sent to a blocked user after it).
    mails = sum(db.session.execute(
        delete(OutboxMail).where(
            func.lower(OutboxMail.to_address).in_(_addresses(user_id)),
            OutboxMail.created_at <= blocked[user_id] + CANCEL_MAILS_WITHIN)
        .execution_options(synchronize_session=False)
    ).rowcount for user_id in ids)
    db.session.execute(
        update(PrivacyRequest)
        .where(PrivacyRequest.user_id.in_(ids),
               PrivacyRequest.kind == PrivacyRight.CANCELLATION.value,
               PrivacyRequest.status.in_(OPEN_STATUSES))
        .values(status=ServiceRequestStatus.RESOLVED.value)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(delete(User).where(User.id.in_(ids))
                       .execution_options(synchronize_session=False))
    audit.record("cancelled_users_purged", count=len(ids), mails_deleted=mails)
    return len(ids)
