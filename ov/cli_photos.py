"""``flask --app ov photos prune``: remove the photos kept for forms that were never sent.

A good photo is kept as soon as a form receives it, so that a refused answer elsewhere in the
form does not make the customer choose it again (ov/blueprints/office/photo_field.py). Those
that no reading or request ever used are removed after a day; run it daily from the scheduler.
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from ov.extensions import db
from ov.services import photos


@click.group("photos")
def photos_group() -> None:
    """Photos customers sent: remove the ones never used."""


@photos_group.command("prune")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(min=1),
              help="Remove unused photos older than this.")
@with_appcontext
def photos_prune_command(hours: int) -> None:
    """Remove photos that no reading or request uses, kept longer ago than --hours."""
    removed = photos.prune(timedelta(hours=hours))
    db.session.commit()
    photos.remove_files(removed)  # the files only once their rows are gone for good
    click.echo(f"Fotos sin usar borradas: {len(removed)}.")
