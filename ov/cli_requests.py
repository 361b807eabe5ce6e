"""``flask --app ov requests``: staff follow requests and claims end to end and move them on.

    flask --app ov requests list [--open] [--limit 50]
    flask --app ov requests show SR-2026-000123
    flask --app ov requests update SR-2026-000123 --status resuelta [--note "..."]
    flask --app ov requests update SR-2026-000123 --note "..."     (an answer, same status)
    flask --app ov requests export --since 2026-11-01 [--format jsonl|csv] > solicitudes.jsonl
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import click
from flask.cli import with_appcontext

from ov.cli_readings import photo_files
from ov.extensions import db
from ov.formatting import day, moment
from ov.models import Account
from ov.services import mail
from ov.services import service_requests as service
from ov.services.preferences import format_phrase


@click.group("requests")
def requests_group() -> None:
    """Requests and claims: list them, show one, change their status, export them."""


@requests_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only those received or in progress.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="At most this many, the oldest first.")
@with_appcontext
def requests_list_command(open_only: bool, limit: int) -> None:
    """The requests, oldest first: folio, status, type, date, answer-by, contract and what
    was asked."""
    found = service.listing(open_only, limit=limit + 1)
    if not found:
        click.echo("No hay solicitudes abiertas." if open_only else "No hay solicitudes.")
    for row, account in found[:limit]:
        due = f"responder antes del {day(row.answer_due_on)}" if row.answer_due_on else "sin plazo"
        click.echo(f"{row.folio}  {service.status_word(row)}  "
                   f"{service.category_name(row) or '-'}  {moment(row.created_at)}  {due}  "
                   f"{account.zone.name} {account.printed_number}  {service.asked(row)}")
    if len(found) > limit:
        click.echo(f"Hay más: muestra más con --limit (hoy {limit}).")


@requests_group.command("show")
@click.argument("folio")
@with_appcontext
def requests_show_command(folio: str) -> None:
    """Everything about one request: its contract, invoice, text, photo and timeline."""
    try:
        row = service.find(folio)
    except service.RequestError as exc:
        raise click.ClickException(str(exc)) from exc
    account = db.session.get(Account, row.account_id)
    invoice = service.invoice_number(row)
    lines = [
        f"Folio: {row.folio}",
        f"Tipo: {service.KIND_WORDS.get(row.kind, row.kind)} · "
        f"{service.category_name(row) or '-'} ({service.type_label(row)})",
        f"Estado: {service.status_word(row)}",
        f"Creada: {moment(row.created_at)}",
        "Responder a más tardar: " + (day(row.answer_due_on) if row.answer_due_on else "-"),
        f"Contrato: {account.zone.name} {account.printed_number} ({account.holder_name})",
        f"Factura: {invoice or 'ninguna'}",
        "Presentada por: " + ("un usuario de la Oficina Virtual" if row.user_id
                              else "teléfono u oficina (sin usuario)"),
        "Foto adjunta: " + (photo_files([row.photo_id]).get(row.photo_id, "sin archivo")
                            if row.photo_id else "no"),
        "Descripción:",
        *[f"  {text}" for text in (row.body or '').splitlines()],
        f"Seguimiento ({len(row.events)}):",
    ]
    for event in row.events:
        who = {"customer": "cliente", "staff": "personal", "portal": "portal"}.get(
            event.author, event.author)
        lines.append(f"  {moment(event.at)}  {who}  {service.WORDS.get(event.status)}"
                     + (f"  {' '.join(event.note.split())}" if event.note else ""))
    click.echo("\n".join(lines))


@requests_group.command("update")
@click.argument("folio")
@click.option("--status", "status", default=None,
              help=f"The new status: {', '.join(service.STATUS_NAMES)}.")
@click.option("--note", default="", help="A note the customer reads (alone: an answer that "
              "leaves the status as it is).")
@with_appcontext
def requests_update_command(folio: str, status: str | None, note: str) -> None:
    """Move a request to a new status, or answer it with a note; the customer gets a notice
    (and a mail if they chose)."""
    if status is None and not note.strip():
        raise click.ClickException("Di el estado nuevo con --status, o la respuesta con --note.")
    try:
        changed = (service.set_status(folio, status, note) if status is not None
                   else service.add_note(folio, note))
    except service.RequestError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    if changed.mails:
        mail.deliver_soon(changed.mails)  # if SMTP is down, mail-drain sends them later
    if status is None:
        click.echo(f"Solicitud {changed.request.folio}: nota agregada; sigue "
                   f"{service.status_word(changed.request)}.")
        return
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


#: A cell starting with one of these is a formula to a spreadsheet (formula injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> object:
    """A value as the CSV holds it: nothing for None; text a spreadsheet would run as a
    formula is prefixed with ``'`` (JSON lines keep it as it is)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


@requests_group.command("export")
@click.option("--since", required=True,
              help="Requests filed from this day on (YYYY-MM-DD, Mexico City).")
@click.option("--format", "output", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True, help="JSON lines, or CSV with a header.")
@with_appcontext
def requests_export_command(since: str, output: str) -> None:
    """One row per request filed since the day, for the utility's CRM, to standard output."""
    try:
        first_day = date.fromisoformat(since) if len(since) == 10 else None
    except ValueError:
        first_day = None
    if first_day is None:
        raise click.ClickException(f"La fecha de --since no se entiende: «{since}». Escríbela "
                                   "como AAAA-MM-DD, por ejemplo 2026-11-01.")
    rows = service.export_rows(first_day)
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=service.EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    click.echo(f"{len(rows)} solicitudes exportadas.", err=True)
