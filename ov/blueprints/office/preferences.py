"""Mis datos > Preferencias: paperless bill, notices by email per kind, the printed bill's
format (a request to the utility, pending until it is done)."""

from __future__ import annotations

from ov.blueprints.office.common import Office


def summary(office: Office) -> dict:
    """What the Mis datos page shows of the preferences (template office/datos/_preferences)."""
    return {}
