"""``manifest.csv``: which files the export holds and how many data rows each has, so that
a file cut short (even at a line's end) is found."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from ov.services.billing_import import fields as f
from ov.services.billing_import.layout import (
    BY_NAME,
    INVOICE_LINES,
    INVOICES,
    MANIFEST,
    Column,
    Context,
    FileSpec,
)
from ov.services.billing_import.reader import ExportDialect, Problems, read_file


def _known_file(value: str, _ctx: Context) -> object:
    if value not in BY_NAME:
        raise f.FieldError(f'{f.quoted(value)} no es un archivo del formato (se esperan: '
                           f"{', '.join(BY_NAME)})")
    return value


MANIFEST_SPEC = FileSpec(
    name=MANIFEST, table="",
    columns=(Column("file", "text", _known_file),
             Column("rows", "int", lambda value, _ctx: f.integer(value, low=0,
                                                                 high=10**9))),
    key=("file",),
    describe=lambda row: row["file"],
)


def _first_column(path: Path) -> set[str]:
    """What the manifest's lines name, right or wrong (it is a few lines long)."""
    names = set()
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        try:
            for record in csv.reader(handle, ExportDialect):
                if record:
                    names.add(record[0].strip())
        except csv.Error:
            pass
    return names


def read_manifest(directory: Path, problems: Problems) -> dict[str, int]:
    """``{file name: rows}`` as the manifest lists them, each file present, no file
    unlisted; problems are added to ``problems``."""
    if not directory.is_dir():
        problems.add(str(directory), None, "no es una carpeta")
        return {}
    path = directory / MANIFEST
    if not path.is_file():
        problems.add(MANIFEST, None, "falta: la exportación lleva un manifest.csv con cada "
                     "archivo y su número de filas (file,rows)")
        return {}
    ctx = Context(today=date.today(), now=datetime.now().astimezone())
    listed: dict[str, int] = {}
    for line, values in read_file(path, MANIFEST_SPEC, ctx, problems).good:
        if values["file"] in listed:
            problems.add(MANIFEST, line, f"{values['file']} aparece dos veces", "file")
            continue
        listed[values["file"]] = values["rows"]
        if not (directory / values["file"]).is_file():
            problems.add(MANIFEST, line, f"{values['file']} no está en la carpeta", "file")
    mentioned = _first_column(path)
    for name in BY_NAME:
        # A file on a manifest line with a problem of its own is not said to be unlisted.
        if name not in listed and name not in mentioned and (directory / name).exists():
            problems.add(name, None, f"no está en {MANIFEST}: añádelo con su número de filas")
    if INVOICES.name in listed and INVOICE_LINES.name not in listed:
        problems.add(MANIFEST, None, f"lista {INVOICES.name} sin {INVOICE_LINES.name}: cada "
                     "factura llega con sus conceptos")
    if not listed and not problems:
        problems.add(MANIFEST, None, "no lista ningún archivo")
    return listed
