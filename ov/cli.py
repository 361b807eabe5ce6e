"""Flask commands: ``flask --app ov init-db``, ``demo-data``, ``mail-drain``,
``purge-expired``, ``purge-cancelled`` and ``notice`` (zone-wide service notices)."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ov import sessions
from ov.cli_import import export_billing_command, import_billing_command
from ov.cli_photos import photos_group
from ov.cli_privacy import privacy_group
from ov.cli_readings import readings_group
from ov.cli_requests import requests_group
from ov.extensions import db
from ov.formatting import moment
from ov.services import captcha, demo_data, mail, notices, privacy, registration


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(mail_drain_command)
    app.cli.add_command(purge_expired_command)
    app.cli.add_command(purge_cancelled_command)
    app.cli.add_command(notice_group)
    app.cli.add_command(requests_group)
    app.cli.add_command(privacy_group)
    app.cli.add_command(photos_group)
    app.cli.add_command(readings_group)
    app.cli.add_command(import_billing_command)
    app.cli.add_command(export_billing_command)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or update the database schema (runs every migration: `flask db upgrade`)."""
    from flask_migrate import upgrade

    upgrade()
    click.echo("Database schema is up to date.")


@click.command("demo-data")
@click.option(
    "--accounts",
    type=click.IntRange(min=1),
    default=demo_data.DEFAULT_ACCOUNTS,
    show_default=True,
    help="How many accounts (the seed guide's contract is one of them).",
)
@click.option(
    "--months",
    type=click.IntRange(min=1),
    default=demo_data.DEFAULT_MONTHS,
    show_default=True,
    help="Monthly invoices per account (the seed's contract gets at least 24).",
)
@click.option(
    "--seed",
    type=int,
    default=demo_data.DEFAULT_SEED,
    show_default=True,
    help="Random seed: the same seed on the same day gives the same data.",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help=(
        "Pretend today is this date (YYYY-MM-DD): bills follow its month, payments "
        "stop the day before."
    ),
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing when accounts already exist (instead of failing).",
)
@with_appcontext
def demo_data_command(
    accounts: int, months: int, seed: int, today: object, if_empty: bool
) -> None:
    """Fill an empty, migrated database with deterministic demo billing data.

    Run `flask --app ov init-db` (or `flask --app ov db upgrade`) first. To reload, empty
    the database: `flask --app ov db downgrade base && flask --app ov db upgrade`.
    """
    if if_empty and not demo_data.billing_is_empty():
        click.echo("Accounts already exist: demo data not loaded (--if-empty).")
        return
    day = today.date() if today is not None else date.today()
    shown = max(1, accounts // 10)

    def progress(result: demo_data.LoadResult) -> None:
        if result.accounts % shown < demo_data.BATCH_ACCOUNTS or result.accounts == accounts:
            click.echo(f"  {result.accounts:,} / {accounts:,} accounts", err=True)

    current_app.logger.info("loading demo data: %s accounts x %s months", accounts, months)
    try:
        result = demo_data.load_demo_data(
            accounts=accounts, months=months, seed=seed, today=day, progress=progress
        )
    except demo_data.DemoDataError as exc:
        raise click.ClickException(str(exc)) from exc
    filed = demo_data.load_demo_requests(today=day, seed=seed)
    click.echo(
        f"Loaded {result.accounts:,} accounts, {result.invoices:,} invoices "
        f"({result.lines:,} lines), {result.readings:,} readings and {result.payments:,} "
        f"payments for {result.reference_month:%Y-%m} in {result.seconds:.1f} s, and "
        f"{filed} requests and claims of other customers."
    )
    click.echo(
        f"Try the seed's contract: zone Nuevo Laredo, account "
        f"{demo_data.SEED_ACCOUNT_NUMBER}, invoice {demo_data.SEED_INVOICE_NUMBER}."
    )


@click.command("mail-drain")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=mail.DEFAULT_LIMIT,
    show_default=True,
    help="Send at most this many mails in this run (oldest first).",
)
@with_appcontext
def mail_drain_command(limit: int) -> None:
    """Send the mails waiting in the outbox; exit status 1 if any could not be sent.

    Run it every minute or so (cron, systemd timer): mails queued while the SMTP server was
    down go out as soon as it is back.
    """
    report = mail.deliver(limit=limit)
    click.echo(
        f"Outbox: {report.sent} sent, {report.failed} failed, "
        f"{report.deferred} left for the next run."
    )
    if report.failed:
        raise click.exceptions.Exit(1)


@click.command("purge-expired")
@with_appcontext
def purge_expired_command() -> None:
    """Delete what has expired: registration drafts, spent form tokens, stored sessions.

    Run it every hour or so (cron, systemd timer). Nothing it deletes could still be used:
    an expired draft starts over, a spent token past its age is refused anyway, and an
    expired session is not read. (Sessions kept in Redis expire by themselves.)
    """
    drafts = registration.purge_expired_drafts()
    tokens = captcha.purge_expired()
    db.session.commit()
    stored = sessions.purge_expired()
    click.echo(
        f"Purged {drafts} registration drafts, {tokens} spent form tokens, "
        f"{stored} sessions."
    )


@click.command("purge-cancelled")
@with_appcontext
def purge_cancelled_command() -> None:
    """Delete the users cancelled by their owners once their blocking period is over
    (OV_CANCEL_BLOCK_DAYS). Run it daily from cron; running it again deletes nothing more."""
    count = privacy.purge_cancelled()
    db.session.commit()
    click.echo(f"Deleted {count} cancelled users.")


@click.group("notice")
def notice_group() -> None:
    """Zone-wide service notices (maintenance, interruptions), shown while current on the
    home page and in Mi oficina."""


@notice_group.command("add")
@click.option("--zona", required=True, help='The zone\'s name, or "todas" for every zone.')
@click.option("--titulo", required=True, help=f"A short title (up to {notices.TITLE_MAX}).")
@click.option("--texto", required=True, help="What customers read.")
@click.option("--desde", required=True, help='Start, Mexico City time: "2026-12-02 09:00".')
@click.option("--hasta", required=True, help='End, Mexico City time: "2026-12-02 18:00".')
@with_appcontext
def notice_add_command(zona: str, titulo: str, texto: str, desde: str, hasta: str) -> None:
    """Post a service notice for a zone, from --desde until --hasta."""
    try:
        made = notices.post_zone_notice(zone=zona, title=titulo, text=texto, starts=desde,
                                        ends=hasta)
    except notices.NoticeError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Aviso {made.id} publicado para {notices.zone_label(made)}: del "
               f"{moment(made.starts_at)} al {moment(made.ends_at)} (hora de la Ciudad de "
               "México).")


@notice_group.command("list")
@click.option("--todos", is_flag=True, help="Include the notices that are over.")
@with_appcontext
def notice_list_command(todos: bool) -> None:
    """The current and upcoming notices (and with --todos those that are over)."""
    now = notices.utcnow()
    found = notices.zone_notices(now, ended=todos)
    if not found:
        click.echo("No hay avisos de zona vigentes ni próximos.")
    for notice in found:
        click.echo(f"{notice.id}  {notices.zone_label(notice)}  {moment(notice.starts_at)} – "
                   f"{moment(notice.ends_at)}  {notices.state(notice, now)}  {notice.title}")


@notice_group.command("end")
@click.argument("notice_id", type=click.IntRange(1, 2_147_483_647))
@with_appcontext
def notice_end_command(notice_id: int) -> None:
    """Take a notice down now (one that has not started never shows)."""
    try:
        notices.end_zone_notice(notice_id)
    except notices.NoticeError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Aviso {notice_id} terminado: ya no se muestra.")
