"""Count the SQL statements a block of code sends (query counts are deterministic: tests
may assert them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from ov.extensions import db


@contextmanager
def counting_queries(app) -> Iterator[list[str]]:
    """``with counting_queries(app) as statements:``: every statement sent inside the block."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
