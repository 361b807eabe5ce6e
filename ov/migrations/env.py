"""Alembic environment for Flask-Migrate: the app's engine and ``db.metadata``.

Every migration runs in batch mode so the same script alters tables on SQLite (which
rebuilds a table to change it) and on PostgreSQL.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from ov.models.common import UTCDateTime

config = context.config

# Leave logging alone when the app (or the test run) has already configured it.
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

migrate_ext = current_app.extensions["migrate"]
target_metadata = migrate_ext.db.metadata


def render_item(type_: str, obj: object, autogen_context) -> str | bool:
    """Write our column types as plain SQLAlchemy types, so scripts import nothing of ours."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def common_options() -> dict:
    return {
        "target_metadata": target_metadata,
        "render_as_batch": True,
        "compare_type": True,
        "compare_server_default": True,
        "render_item": render_item,
    }


def run_migrations_offline() -> None:
    """Emit SQL to standard output (``flask db upgrade --sql``)."""
    url = migrate_ext.db.engine.url.render_as_string(hide_password=False)
    context.configure(url=url, literal_binds=True, **common_options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the app's database."""

    def skip_empty_revision(context_, revision, directives) -> None:
        # `flask db migrate` with no model changes writes no empty script.
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    options = common_options()
    options.update(migrate_ext.configure_args)
    options.setdefault("process_revision_directives", skip_empty_revision)
    with migrate_ext.db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds a table to alter it (copy, drop, rename). With foreign keys on,
            # dropping the old ``portal_user`` would cascade to every row that points at it:
            # links and notices deleted, audit events and requests emptied. Off while the
            # migrations run (it cannot change inside a transaction), then checked.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            context.configure(connection=connection, **options)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migrations left rows pointing nowhere: {broken[:5]}")
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
