"""Fixtures shared by unit tests of more than one module."""

from __future__ import annotations

import pytest

from ov import create_app
from ov.extensions import db
from ov.sessions import SessionRecord
from tests.conftest import TEST_DATABASE_URL, reset_schema, settings_for


@pytest.fixture
def sql_app(tmp_path):
    """An app whose sessions are in the database, whatever the pass (Redis or not)."""
    application = create_app({**settings_for(tmp_path), "OV_REDIS_URL": ""})
    if not TEST_DATABASE_URL:
        reset_schema(application)
    yield application
    with application.app_context():
        db.session.execute(SessionRecord.__table__.delete())
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
