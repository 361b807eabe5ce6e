"""``flask --app ov readings``: staff review the meter readings customers send.

    flask --app ov readings list [--pending] [--limit 50]
    flask --app ov readings accept 123 [--note "..."]
    flask --app ov readings reject 123 --note "La foto no deja leer los números."

The billing system takes an accepted reading on its next import; the customer is told of
either outcome with a notice (and a mail if they chose reading notices).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ov.extensions import db
from ov.formatting import day, moment, number
from ov.models import Photo
from ov.services import mail, photos
from ov.services import readings as service

STATUS_WORDS = {"received": "en revisión", "accepted": "aceptada", "rejected": "no aceptada"}
CONFIRMED_WORDS = {"lower": "confirmó: menor que la última real",
                   "jump": "confirmó: muy por encima de su consumo"}


@click.group("readings")
def readings_group() -> None:
    """Meter readings sent by customers: list them, accept or reject them."""


@readings_group.command("list")
@click.option("--pending", "pending_only", is_flag=True, help="Only those not yet reviewed.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="At most this many, the oldest first.")
@with_appcontext
def readings_list_command(pending_only: bool, limit: int) -> None:
    """The readings, oldest first: number, status, date read, contract, value, photo."""
    found = service.listing(pending_only=pending_only, limit=limit + 1)
    if not found:
        click.echo("No hay lecturas por revisar." if pending_only else "No hay lecturas.")
    shown = found[:limit]
    files = photo_files([row.photo_id for row, _ in shown if row.photo_id])
    for row, account in shown:
        extra = [CONFIRMED_WORDS[row.confirmed]] if row.confirmed else []
        if row.photo_id:
            extra.append(f"foto {row.photo_id}: {files.get(row.photo_id, 'sin archivo')}")
        if row.invoice_id:
            extra.append(f"corrige la factura {row.invoice_id}")
        click.echo(f"{row.id}  {STATUS_WORDS[row.status]}  {day(row.read_on)}  "
                   f"{account.zone.name} {account.printed_number}  {number(row.value)} m³  "
                   f"enviada {moment(row.submitted_at)}"
                   + (f"  ({'; '.join(extra)})" if extra else ""))
    if len(found) > limit:
        click.echo(f"Hay más: muestra más con --limit (hoy {limit}).")


def photo_files(photo_ids: list[int]) -> dict[int, str]:
    """Where each photo's file is, for staff to open it (one query, none for no ids)."""
    if not photo_ids:
        return {}
    return {photo.id: str(photos.path_of(photo))
            for photo in db.session.scalars(select(Photo).where(Photo.id.in_(photo_ids)))}


def _review(submission_id: int, outcome: str, note: str) -> None:
    try:
        done = service.review(submission_id, outcome, note)
    except service.ReviewError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    if done.notified and done.notified.mail:
        mail.deliver_soon([done.notified.mail])  # if SMTP is down, mail-drain sends it later
    click.echo(f"Lectura {done.submission.id} del contrato {done.account.printed_number}: "
               f"{STATUS_WORDS[done.submission.status]}.")


@readings_group.command("accept")
@click.argument("submission_id", type=click.IntRange(min=1))
@click.option("--note", default="", help="A note the customer reads with the answer.")
@with_appcontext
def readings_accept_command(submission_id: int, note: str) -> None:
    """Accept a reading: the billing system will use it."""
    _review(submission_id, "accept", note)


@readings_group.command("reject")
@click.argument("submission_id", type=click.IntRange(min=1))
@click.option("--note", required=True, help="Why, as the customer will read it.")
@with_appcontext
def readings_reject_command(submission_id: int, note: str) -> None:
    """Reject a reading, saying why to the customer."""
    _review(submission_id, "reject", note)
