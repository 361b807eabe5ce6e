"""Reading one file of an export, row by row, without holding it in memory.

The bytes are checked line by line (UTF-8 without a byte-order mark, ``\\n`` line endings)
and given to Python's ``csv`` module for the fields (comma, double quotes, strict), so
broken quoting is found rather than guessed at. Every value goes through its column's
reader; each problem is kept with its file, line and column, and reading goes on, so one
run reports everything that is wrong.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ov.services.billing_import.fields import FieldError
from ov.services.billing_import.layout import Context, FileSpec

BOM = b"\xef\xbb\xbf"
#: How many problems are kept to be shown; the rest are only counted.
KEPT_PROBLEMS = 200


class ExportDialect(csv.Dialect):
    """RFC 4180 fields with ``\\n`` records: what ``docs/import-format.md`` describes."""

    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str
    column: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.column} {self.message}" if self.column else \
            f"{where}: {self.message}"


@dataclass
class Problems:
    """Everything wrong with an export: the first :data:`KEPT_PROBLEMS`, and a count."""

    kept: list[Problem] = field(default_factory=list)
    count: int = 0

    def add(self, file: str, line: int | None, message: str, column: str | None = None) -> None:
        self.count += 1
        if len(self.kept) < KEPT_PROBLEMS:
            self.kept.append(Problem(file, line, message, column))

    def __bool__(self) -> bool:
        return self.count > 0


def _lines(path: Path, name: str, problems: Problems, unread: set[int]) -> Iterator[str]:
    """The file's lines as text with their ``\\n``. A line that is not UTF-8, or that holds
    a carriage return of its own, is reported, its number put in ``unread``, and given as
    an empty line so that line numbers stay right."""
    crlf = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                # Only the last line can lack it: a file cut inside its last row would
                # otherwise load that row's first fields as if they were all of it.
                problems.add(name, number, "la última línea no termina en salto de línea "
                             "(LF): ¿el archivo está cortado? Cada línea, también la última, "
                             "termina en \\n")
                unread.add(number)
                yield "\n"
                continue
            if number == 1 and raw.startswith(BOM):
                problems.add(name, 1, "empieza con una marca de orden de bytes (BOM): "
                             "guárdalo como UTF-8 sin BOM")
                raw = raw[len(BOM):]
            if raw.endswith(b"\r\n"):
                crlf += 1
                if crlf == 1:
                    problems.add(name, number, "termina en CRLF (fin de línea de Windows): "
                                 "las líneas deben terminar solo en LF (\\n)")
                raw = raw[:-2] + b"\n"
            if b"\r" in raw:
                # csv would take it for the end of a record and line numbers would drift.
                problems.add(name, number, "tiene un retorno de carro (\\r) suelto: las "
                             "líneas terminan solo en LF (\\n) y los campos no llevan \\r")
                unread.add(number)
                yield "\n"
                continue
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                bad = raw[error.start]
                problems.add(name, number, f"el byte 0x{bad:02X} en la posición "
                             f"{error.start + 1} no es UTF-8 (¿se guardó en Latin-1 o "
                             "Windows-1252?): guárdalo como UTF-8")
                unread.add(number)
                yield "\n"
    if crlf > 1:
        problems.add(name, None, f"{crlf:,} líneas terminan en CRLF en total")


@dataclass
class FileReading:
    """The good rows of one file as they are read, and afterwards how many rows it had."""

    good: Iterator[tuple[int, dict]]
    records: int = 0
    last_line: int = 0
    #: False when the header could not be used: no row of the file was read.
    header_ok: bool = True


def read_file(path: Path, spec: FileSpec, ctx: Context, problems: Problems,
              advance: Callable[[int], None] = lambda _n: None, *,
              keep_rejected: bool = False) -> FileReading:
    """Read ``path`` as ``spec`` says; ``good`` yields ``(line, values)`` for each row
    that passed its rules, and with ``keep_rejected`` also each refused row whose key
    could be read, as ``{"rejected": 1, <key columns that read>}``, so that rows of
    other files that refer to it are not refused for its sake."""
    reading = FileReading(good=iter(()))
    reading.good = _read(path, spec, ctx, problems, advance, reading, keep_rejected)
    return reading


#: Values each column remembers having read: dates, codes and amounts repeat a lot.
MEMO_VALUES = 4096


def _read(path: Path, spec: FileSpec, ctx: Context, problems: Problems,
          advance: Callable[[int], None], reading: FileReading,
          keep_rejected: bool) -> Iterator[tuple[int, dict]]:
    name = spec.name
    unread: set[int] = set()
    reader = csv.reader(_lines(path, name, problems, unread), ExportDialect)
    header = _header(reader, spec, problems, unread)
    if header is None:
        reading.header_ok = False
        _count_rest(reader, reading, unread)
        return
    positions = [(header.index(column.name), column.name, column.read, {})
                 for column in spec.columns]
    keys = spec.key
    width = len(header)
    pending = 0
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            reading.records += 1
            problems.add(name, line, _quoting(str(error)))
            continue
        if record == [] and line not in unread:
            # Not a row: the manifest does not count it, so neither is it counted here.
            problems.add(name, line, "es una línea vacía")
            continue
        reading.records += 1
        reading.last_line = reader.line_num
        pending += 1
        if pending == 1000:
            advance(pending)
            pending = 0
        if len(record) != width:
            if record == []:
                continue  # a line that could not be read, reported as it was read
            if record == [""]:
                problems.add(name, line, "es una línea vacía")
            else:
                problems.add(name, line, f"tiene {len(record)} columnas y la cabecera "
                             f"{width}")
            continue
        values = {}
        ok = True
        for index, column_name, read, memo in positions:
            raw = record[index]
            try:
                values[column_name] = memo[raw]
                continue
            except KeyError:
                pass
            try:
                value = read(raw, ctx)
            except FieldError as error:
                problems.add(name, line, str(error), column_name)
                ok = False
                continue
            if len(memo) < MEMO_VALUES:  # the readers are pure: same text, same value
                memo[raw] = value
            values[column_name] = value
        if ok:
            broken = spec.row_rules(values, ctx)
            for column_name, message in broken:
                problems.add(name, line, message, column_name)
            if not broken:
                yield line, values
                continue
        if keep_rejected:
            yield line, {"rejected": 1, **{key: values[key] for key in keys if key in values}}
    advance(pending)


def _count_rest(reader, reading: FileReading, unread: set[int]) -> None:
    """Count the records after a header that cannot be used, so that the manifest's count
    is compared with the file's and a header problem does not read as a cut file."""
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:
            pass
        else:
            if record == [] and line not in unread:
                continue
            reading.last_line = reader.line_num
        reading.records += 1


def _quoting(message: str) -> str:
    if "field larger than field limit" in message:
        return (f"tiene un campo de más de {csv.field_size_limit():,} caracteres: ¿faltan "
                "por cerrar unas comillas?")
    if "unexpected end of data" in message or "EOF" in message:
        return ("el archivo termina dentro de un campo entre comillas: ¿está cortado o "
                "falta cerrar unas comillas?")
    return ('comillas mal puestas: un campo con comillas va entero entre ellas, seguido de '
            'una coma o del fin de línea, y una comilla dentro de él se escribe doble ("")')


def _header(reader, spec: FileSpec, problems: Problems,
            unread: set[int] = frozenset()) -> list[str] | None:
    """The header row, if it names each expected column once and nothing else."""
    name = spec.name
    try:
        header = next(reader)
    except StopIteration:
        problems.add(name, 1, "está vacío: falta la cabecera "
                     f"({','.join(spec.headers)})")
        return None
    except csv.Error as error:
        problems.add(name, 1, _quoting(str(error)))
        return None
    if header == [] and 1 in unread:
        return None  # reported as it was read
    expected = set(spec.headers)
    repeated = sorted({column for column in header if header.count(column) > 1})
    missing = [column for column in spec.headers if column not in header]
    extra = [column for column in header if column not in expected]
    if repeated:
        problems.add(name, 1, f"la cabecera repite columnas: {', '.join(repeated)}")
    if missing:
        problems.add(name, 1, f"faltan columnas en la cabecera: {', '.join(missing)}")
    if extra:
        problems.add(name, 1, f"la cabecera tiene columnas que no conocemos: "
                     f"{', '.join(extra)} (se esperan {','.join(spec.headers)})")
    return None if repeated or missing or extra else header
