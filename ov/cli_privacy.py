"""``flask --app ov privacy``: the privacy office follows the ARCO requests and answers them.

    flask --app ov privacy list [--open]
    flask --app ov privacy update ARCO-2026-000123 --status resuelta [--note "..."]
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ov.extensions import db
from ov.formatting import day, moment
from ov.services import privacy as service


@click.group("privacy")
def privacy_group() -> None:
    """ARCO requests (rectification, opposition, cancellation): list them, change their status."""


@privacy_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only those received or in progress.")
@with_appcontext
def privacy_list_command(open_only: bool) -> None:
    """The requests, oldest first: folio, status, right, date filed, answer due, user."""
    found = service.listing(open_only)
    if not found:
        click.echo("No hay solicitudes abiertas." if open_only else "No hay solicitudes.")
    for row, username in found:
        click.echo(f"{row.folio}  {service.STATUS_LABELS[row.status]}  "
                   f"{service.RIGHT_LABELS[row.kind]}  {moment(row.created_at)}  "
                   f"responder a más tardar el {day(row.answer_due_on)}  "
                   f"{username or '(usuario eliminado)'}")


@privacy_group.command("update")
@click.argument("folio")
@click.option("--status", "status", required=True,
              help=f"The new status: {', '.join(service.STATUS_NAMES)}.")
@click.option("--note", default="", help="What was done (kept in the audit trail).")
@with_appcontext
def privacy_update_command(folio: str, status: str, note: str) -> None:
    """Move an ARCO request to a new status, audited."""
    try:
        row = service.set_status(folio, status, note)
    except service.PrivacyError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Solicitud {row.folio}: ahora está {service.STATUS_LABELS[row.status]}.")
