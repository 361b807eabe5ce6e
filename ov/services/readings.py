"""Autolectura: a customer types the digits on their gas meter, the portal checks them and
keeps them as a customer reading waiting for the billing system's review.

**What is typed.** The meter's register counts whole cubic metres: only the ASCII digits
0-9, at most ``MAX_DIGITS`` of them (the black digits of the dial; the red ones are
fractions and are not typed). Spaces around the number are dropped; anything else (letters,
a decimal point or comma, a minus sign, spaces between the digits, digits of other scripts,
too many digits) is refused with a Spanish message that says what to type instead.

**What is compared.** The contract's last *real* reading (taken by the meter reader): the
newest of the ``reading`` rows of type ``real`` and the ``current_reading`` of its invoices
read as ``real``. The customer's usual daily use is the consumption of the contract's last
``USUAL_PERIODS`` invoices divided by the days they cover.

**When the customer is asked to confirm** (never refused: the meter may have been changed or
have turned over, and a real leak does make a jump):

- ``lower``: the value is below the last real reading;
- ``jump``: the value implies a daily use, since the last real reading, of more than
  ``JUMP_FACTOR`` times the usual one, *and* an increase of more than ``JUMP_FLOOR_M3`` m³
  (so a customer who uses almost no gas is not asked about a few m³). No usual use known
  (no invoices) or no real reading: nothing to compare, no question.

A confirmed submission keeps which warning the customer confirmed (``confirmed``).

**One a day.** The date read is today in Mexico City. A contract has at most one submission
*received* (not yet reviewed) per day: a second one the same day **replaces** the first (its
value, bill, photo and confirmation), because the customer is correcting what they typed;
the replaced photo is removed. The user's submissions take turns (``take_turns``), so two
at once make one row: the second replaces the first. Callers commit.

**Review.** Until a back office exists, staff accept or reject a received reading with
``flask --app ov readings`` (``review``); the customer gets a notice either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from ov.extensions import db
from ov.formatting import day, number
from ov.models import Account, Invoice, Photo, ReadingSubmission, User, utcnow
from ov.models.billing import Reading, ReadingType
from ov.models.portal import ReadingSubmissionStatus
from ov.services import audit, mail, notices
from ov.services.locks import take_turns
from ov.services.text import tidy_lines

#: The meter register's longest value, in digits (whole m³).
MAX_DIGITS = 8
#: A value whose implied daily use is more than this many times the usual one is a jump...
JUMP_FACTOR = 3
#: ...if it also adds more than this many m³ since the last real reading.
JUMP_FLOOR_M3 = 20
#: How many recent invoices tell the usual daily use.
USUAL_PERIODS = 6

LOWER = "lower"
JUMP = "jump"
WARNINGS = (LOWER, JUMP)

EMPTY = "Escribe la lectura de tu medidor: los números negros, de izquierda a derecha."
SPACES = "Escribe la lectura sin espacios entre los números, por ejemplo 1234."
NEGATIVE = "La lectura no puede ser negativa: escribe solo los números negros del medidor."
DECIMALS = ("Escribe solo los números negros, sin punto ni coma: los números rojos no se "
            "escriben.")
NOT_DIGITS = "La lectura solo lleva números del 0 al 9, sin letras ni otros signos."
TOO_LONG = (f"La lectura tiene más de {MAX_DIGITS} cifras: escribe solo los números negros del "
            "medidor.")
#: How a customer's reading shows in the history while and after it is reviewed.
STATUS_LABELS = {ReadingSubmissionStatus.RECEIVED.value: "del cliente, en revisión",
                 ReadingSubmissionStatus.ACCEPTED.value: "del cliente, aceptada",
                 ReadingSubmissionStatus.REJECTED.value: "del cliente, no aceptada"}
CHECK_DIGITS = "Revisa los números negros del medidor, sin los rojos. Si es correcta, confírmala."


class ReadingError(ValueError):
    """What was typed is not a reading; the message says why, in Spanish."""


def clean_value(raw: str | None) -> int:
    """The reading as a whole number of m³, or :class:`ReadingError`."""
    text = (raw or "").strip()
    if not text:
        raise ReadingError(EMPTY)
    if text.isascii() and text.isdigit():
        if len(text) > MAX_DIGITS:
            raise ReadingError(TOO_LONG)
        return int(text)
    if any(ch.isspace() for ch in text) and all(
            ch.isspace() or (ch.isascii() and ch.isdigit()) for ch in text):
        raise ReadingError(SPACES)
    if text[0] in "-−" and text[1:].strip().replace(".", "").replace(",", "").isdigit():
        raise ReadingError(NEGATIVE)
    if any(ch in ".,'" for ch in text) and all(
            ch in ".,'" or (ch.isascii() and ch.isdigit()) for ch in text):
        raise ReadingError(DECIMALS)
    raise ReadingError(NOT_DIGITS)


@dataclass(frozen=True)
class RealReading:
    value: int
    read_on: date


@dataclass(frozen=True)
class Basis:
    """What a contract's new reading is compared with."""

    last_real: RealReading | None
    #: m³ per day over the last invoices; None when the contract has none.
    usual_daily: Decimal | None


def basis(account_id: int) -> Basis:
    """The last real reading and the usual daily use of a contract (two queries)."""
    invoices = db.session.execute(
        select(Invoice.period_start, Invoice.period_end, Invoice.consumption_m3,
               Invoice.current_reading, Invoice.reading_type)
        .where(Invoice.account_id == account_id)
        .order_by(Invoice.period_end.desc(), Invoice.id.desc())
        .limit(USUAL_PERIODS)
    ).all()
    reading = db.session.execute(
        select(Reading.value, Reading.read_on)
        .where(Reading.account_id == account_id, Reading.reading_type == ReadingType.REAL.value)
        .order_by(Reading.read_on.desc(), Reading.id.desc())
        .limit(1)
    ).first()
    candidates = [RealReading(reading.value, reading.read_on)] if reading else []
    # The newest real invoice of the last ones (an older one would be older than the reading
    # rows anyway: the meter reader's reading is the invoice's).
    candidates += [RealReading(row.current_reading, row.period_end) for row in invoices
                   if row.reading_type == ReadingType.REAL.value][:1]
    last_real = max(candidates, key=lambda r: r.read_on, default=None)
    days = sum((row.period_end - row.period_start).days + 1 for row in invoices)
    usual = (Decimal(sum(row.consumption_m3 for row in invoices)) / days) if days else None
    return Basis(last_real, usual)


@dataclass(frozen=True)
class Caution:
    """Why the customer is asked to confirm a reading."""

    kind: str
    message: str


def one_decimal(value: Decimal) -> str:
    rounded = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{rounded:,.1f}" if rounded != rounded.to_integral_value() else f"{int(rounded):,}"


def check(value: int, known: Basis, today: date) -> Caution | None:
    """The warning a reading deserves, or None (see the module's rules)."""
    last = known.last_real
    if last is None:
        return None
    if value < last.value:
        return Caution(LOWER, (
            f"Tu lectura ({number(value)}) es menor que la última lectura real "
            f"({number(last.value)} del {day(last.read_on)}). {CHECK_DIGITS}"))
    if known.usual_daily is None:
        return None
    added = value - last.value
    days = max((today - last.read_on).days, 1)
    implied = Decimal(added) / days
    if added > JUMP_FLOOR_M3 and implied > JUMP_FACTOR * known.usual_daily:
        usual = (f"unos {one_decimal(known.usual_daily)} m³ al día"
                 if known.usual_daily > 0 else "casi nada de gas")
        span = "1 día" if days == 1 else f"{days} días"
        return Caution(JUMP, (
            f"Tu lectura ({number(value)}) indica que usaste {number(added)} m³ en {span} "
            f"desde la última lectura real ({number(last.value)} del {day(last.read_on)}): "
            f"unos {one_decimal(implied)} m³ al día, más de {JUMP_FACTOR} veces lo que sueles "
            f"usar ({usual}). {CHECK_DIGITS}"))
    return None


def corrects(invoice: Invoice) -> bool:
    """Can a customer's reading correct this invoice? Only an estimated one."""
    return invoice.reading_type == ReadingType.ESTIMATED.value


@dataclass
class Stored:
    """A submission kept; ``replaced`` when it took the place of one the same day, whose
    photo (``dropped``) the caller removes from disk once committed."""

    submission: ReadingSubmission
    replaced: bool
    dropped: list[Photo] = field(default_factory=list)


def pending_today(account_id: int, read_on: date) -> ReadingSubmission | None:
    return db.session.scalars(
        select(ReadingSubmission)
        .where(ReadingSubmission.account_id == account_id,
               ReadingSubmission.read_on == read_on,
               ReadingSubmission.status == ReadingSubmissionStatus.RECEIVED.value)
        .order_by(ReadingSubmission.id)
        .limit(1)
    ).first()


def submit(*, user_id: int, account_id: int, value: int, read_on: date,
           invoice_id: int | None = None, photo: Photo | None = None,
           confirmed: str | None = None, client_address: str | None = None) -> Stored:
    """Keep the reading (replacing the day's pending one) with its photo (already kept by
    the form: ``ov.blueprints.office.photo_field.take_photo``), and an audit event.

    The caller has checked that the contract (and the invoice, if any) are the user's and
    that ``confirmed`` is the warning the value deserves. Callers commit, then
    ``photos.discard(stored.dropped)``: the photo of a replaced reading.
    """
    if confirmed is not None and confirmed not in WARNINGS:
        raise ValueError(f"unknown warning {confirmed!r}")
    take_turns(user_id)
    submission = pending_today(account_id, read_on)
    replaced = submission is not None
    dropped: list[Photo] = []
    # A correction without a new file keeps the photo sent first; a different photo
    # replaces it, and the old one goes.
    if (submission is not None and photo is not None
            and submission.photo_id not in (None, photo.id)):
        old = db.session.get(Photo, submission.photo_id)
        if old is not None:
            dropped.append(old)
            db.session.delete(old)
    if submission is None:
        submission = ReadingSubmission(account_id=account_id, read_on=read_on,
                                       status=ReadingSubmissionStatus.RECEIVED.value)
        db.session.add(submission)
    submission.user_id = user_id
    submission.value = value
    submission.invoice_id = invoice_id
    if photo is not None:
        submission.photo_id = photo.id
    submission.confirmed = confirmed
    submission.submitted_at = utcnow()
    db.session.flush()
    audit.record("reading_submitted", user_id=user_id, client_address=client_address,
                 account_id=account_id, submission_id=submission.id, invoice_id=invoice_id,
                 photo=submission.photo_id is not None, confirmed=confirmed,
                 replaced=replaced or None)
    return Stored(submission, replaced, dropped)


# --- staff review, until a back office exists (``flask --app ov readings``) ----------------

#: A reviewed reading is told to its user with a notice (by mail when they chose reading
#: notices in Mis datos > Preferencias), once per reading and outcome.
READING_REVIEWED = notices.Kind("reading_reviewed", lambda user: bool(user.notify_reading))
OUTCOMES = {"accept": ReadingSubmissionStatus.ACCEPTED.value,
            "reject": ReadingSubmissionStatus.REJECTED.value}


class ReviewError(ValueError):
    """A review staff cannot make; the message says why."""


@dataclass
class Reviewed:
    submission: ReadingSubmission
    account: Account
    notified: notices.Notified | None


def listing(*, pending_only: bool, limit: int) -> list[tuple[ReadingSubmission, Account]]:
    """Submissions with their contracts, the oldest first (one query)."""
    query = (select(ReadingSubmission, Account)
             .join(Account, Account.id == ReadingSubmission.account_id)
             .options(joinedload(Account.zone))
             .order_by(ReadingSubmission.submitted_at, ReadingSubmission.id).limit(limit))
    if pending_only:
        query = query.where(
            ReadingSubmission.status == ReadingSubmissionStatus.RECEIVED.value)
    return [(row, account) for row, account in db.session.execute(query).all()]


#: How staff read a reviewed reading's status.
REVIEWED_WORDS = {ReadingSubmissionStatus.ACCEPTED.value: "aceptada",
                  ReadingSubmissionStatus.REJECTED.value: "no aceptada"}
#: The longest note a review takes (the customer reads it on the reading's page).
NOTE_MAX = 2000


def clean_note(note: str | None) -> str:
    """The note as kept: line ends as ``\\n`` (its paragraphs are shown), blank lines and
    spaces at either end trimmed; refused over ``NOTE_MAX`` characters rather than cut."""
    text = tidy_lines(note)
    if len(text) > NOTE_MAX:
        raise ReviewError(f"La nota tiene {len(text):,} caracteres; el máximo es "
                          f"{NOTE_MAX:,}. Acórtala.")
    return text


def review(submission_id: int, outcome: str, note: str = "") -> Reviewed:
    """Accept or reject a received reading and tell its user (callers commit). A rejection
    needs a note: the customer reads why. Of two staff reviewing one reading at once, the
    second is refused (the update is conditional on the status)."""
    if outcome not in OUTCOMES:
        raise ReviewError(f"Resultado desconocido: {outcome}.")
    note = clean_note(note)
    if outcome == "reject" and not note:
        raise ReviewError("Para no aceptar una lectura escribe el motivo con --note: el "
                          "cliente lo lee.")
    found = db.session.get(ReadingSubmission, submission_id)
    if found is None:
        raise ReviewError(f"No hay ninguna lectura con el número {submission_id}.")
    moved = db.session.execute(
        update(ReadingSubmission)
        .where(ReadingSubmission.id == submission_id,
               ReadingSubmission.status == ReadingSubmissionStatus.RECEIVED.value)
        .values(status=OUTCOMES[outcome], review_note=note or None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        db.session.refresh(found)
        raise ReviewError(f"La lectura {submission_id} ya se revisó: está "
                          f"{REVIEWED_WORDS.get(found.status, found.status)}.")
    db.session.refresh(found)
    account = db.session.get(Account, found.account_id)
    audit.record("reading_reviewed", submission_id=found.id, account_id=found.account_id,
                 status=found.status)
    notified = None
    user = db.session.get(User, found.user_id) if found.user_id else None
    if user is not None:
        accepted = found.status == ReadingSubmissionStatus.ACCEPTED.value
        title = (f"Aceptamos tu lectura del contrato {account.printed_number}" if accepted
                 else f"No pudimos usar tu lectura del contrato {account.printed_number}")
        body = (f"Revisamos la lectura de {number(found.value)} m³ que nos diste el "
                f"{day(found.read_on)}: "
                + ("la usaremos para tu factura." if accepted else f"no la usaremos. {note}"))
        if accepted and note:
            body += f" {note}"
        notified = notices.notify(
            user, READING_REVIEWED, f"{found.id}:{found.status}", account_id=account.id,
            title=title, body=body,
            action=("Ver mi lectura", mail.external_url("office.reading_received",
                                                        submission_id=found.id)))
    return Reviewed(found, account, notified)
