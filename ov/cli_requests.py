"""``flask --app ov requests``: staff follow the requests the portal files and move them on.

    flask --app ov requests list [--open] [--limit 50]
    flask --app ov requests update SR-2026-000123 --status resuelta [--note "..."]
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ov.extensions import db
from ov.formatting import moment
from ov.services import mail
from ov.services import service_requests as service
from ov.services.preferences import format_phrase


@click.group("requests")
def requests_group() -> None:
    """Service requests (e.g. a bill in braille): list them, change their status."""


@requests_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only those received or in progress.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="At most this many, the oldest first.")
@with_appcontext
def requests_list_command(open_only: bool, limit: int) -> None:
    """The requests, oldest first: folio, status, date, contract and what was asked."""
    found = service.listing(open_only, limit=limit + 1)
    if not found:
        click.echo("No hay solicitudes abiertas." if open_only else "No hay solicitudes.")
    for row, account in found[:limit]:
        click.echo(f"{row.folio}  {service.status_word(row)}  {moment(row.created_at)}  "
                   f"{account.zone.name} {account.printed_number}  {service.asked(row)}")
    if len(found) > limit:
        click.echo(f"Hay más: muestra más con --limit (hoy {limit}).")


@requests_group.command("update")
@click.argument("folio")
@click.option("--status", "status", required=True,
              help=f"The new status: {', '.join(service.STATUS_NAMES)}.")
@click.option("--note", default="", help="A note the customer reads with the change.")
@with_appcontext
def requests_update_command(folio: str, status: str, note: str) -> None:
    """Move a request to a new status; the customer gets a notice (and a mail if they chose)."""
    try:
        changed = service.set_status(folio, status, note)
    except service.RequestError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    if changed.mails:
        mail.deliver_soon(changed.mails)  # if SMTP is down, mail-drain sends them later
    done = f"Solicitud {changed.request.folio}: ahora está {service.status_word(changed.request)}."
    if changed.format_set:
        done += (" La factura de su contrato ya se imprime "
                 f"{format_phrase(changed.request.detail)}.")
    elif changed.format_left and changed.request.status == "resolved":
        done += " No se aplicó el formato: el contrato ya no está ligado a quien lo pidió."
    elif changed.format_left:
        done += (" No se aplicó el formato: la factura de su contrato sigue "
                 f"{format_phrase(changed.current_format)}.")
    click.echo(done)
