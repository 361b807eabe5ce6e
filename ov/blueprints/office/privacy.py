"""Mis datos > Mis derechos ARCO: download my data, rectification and opposition requests,
and cancelling the user."""

from __future__ import annotations

from ov.blueprints.office.common import Office


def summary(office: Office) -> dict:
    """What the Mis datos page shows of the privacy rights (template office/datos/_privacy)."""
    return {}
