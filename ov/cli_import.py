"""``flask --app ov import-billing DIR`` and ``export-billing DIR``: the billing system's
exports in and out (the format: ``docs/import-format.md``).

    flask --app ov import-billing exports/2026-11
    flask --app ov export-billing /tmp/export

The import checks everything before it writes anything; on a terminal it shows a bar per
file (rows, rows per second, time left) and is quiet otherwise. It ends with what changed
per file, or with every problem found (file:line: column, what was expected) and exit
status 1. Another import running: exit status 2.
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from ov.services.billing_import import ImportBusy, ImportFailed, Progress, run_import
from ov.services.billing_import.engine import Bar
from ov.services.billing_import.export import export_billing


class TerminalBar(Bar):
    def __init__(self, name: str, total: int | None):
        # disable=None: no bar when the output is not a terminal (a cron job, a pipe).
        # Counts in thousands and millions (12.3k) only for files that large: a small file
        # reads 20/20, not 20.0/20.0.
        self.bar = tqdm(total=total, desc=name, unit=" filas",
                        unit_scale=total is None or total >= 1000,
                        disable=None, file=sys.stderr, dynamic_ncols=True)

    def update(self, rows: int) -> None:
        self.bar.update(rows)

    def close(self) -> None:
        self.bar.close()


class TerminalProgress(Progress):
    def __init__(self):
        self.terminal = sys.stderr.isatty()

    def bar(self, name: str, total: int | None) -> Bar:
        return TerminalBar(name, total)

    def say(self, message: str) -> None:
        if self.terminal:
            tqdm.write(message, file=sys.stderr)


@click.command("import-billing")
@click.argument("directory", type=click.Path(file_okay=False, path_type=str))
@with_appcontext
def import_billing_command(directory: str) -> None:
    """Load a billing export (a folder with manifest.csv): all of it, or nothing."""
    try:
        summary = run_import(directory, progress=TerminalProgress())
    except ImportFailed as failed:
        problems = failed.problems
        for problem in problems.kept:
            click.echo(str(problem), err=True)
        hidden = problems.count - len(problems.kept)
        if hidden:
            click.echo(f"… y {hidden:,} problemas más.", err=True)
        click.echo(f"No se cargó nada: {problems.count:,} "
                   f"{'problema' if problems.count == 1 else 'problemas'} en la exportación.",
                   err=True)
        sys.exit(1)
    except ImportBusy as busy:
        click.echo(str(busy), err=True)
        sys.exit(2)
    except SQLAlchemyError as error:
        # The transaction was rolled back: the data is as the previous import left it.
        cause = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:300]
        click.echo(f"La base de datos falló durante la carga ({cause}). No se cargó nada: "
                   "los datos siguen como estaban. Vuelve a intentarlo cuando la base de "
                   "datos esté bien.", err=True)
        sys.exit(1)
    click.echo(f"Importación {summary.run_id} cargada:")
    width = max(len(name) for name in summary.counts) if summary.counts else 0
    for name, counts in summary.counts.items():
        removed = f", {counts.removed:,} quitadas" if counts.removed else ""
        click.echo(f"  {name:<{width}}  {counts.inserted:>10,} nuevas  "
                   f"{counts.updated:>10,} cambiadas  {counts.unchanged:>10,} sin cambios"
                   f"{removed}")
    click.echo(f"  avisos: {summary.notices:,}, correos en cola: {summary.mails:,}"
               + (" (salen con flask --app ov mail-drain)" if summary.mails else ""))


@click.command("export-billing")
@click.argument("directory", type=click.Path(file_okay=False, path_type=str))
@with_appcontext
def export_billing_command(directory: str) -> None:
    """Write the billing tables as an export (the import's format) into DIRECTORY."""
    written = export_billing(directory)
    for name, rows in written.rows.items():
        click.echo(f"  {name}: {rows:,} filas")
    if written.cfdi_files:
        click.echo(f"  cfdi/: {written.cfdi_files:,} archivos")
