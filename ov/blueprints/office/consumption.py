"""Mis consumos: each chosen contract's last 24 periods as a chart and a table, the readings
the customer sent that wait for review, and why the latest bill changed.

A tab swap brings only each contract's heading and summary (the 2 KB budget of a swap); each
contract's detail then loads from ``?contrato=<id>`` with ``HX-Target`` naming its block.
"""

from __future__ import annotations

from flask import make_response, render_template, request

from ov.blueprints.office.common import READING_LABELS, bp, office_context, page
from ov.htmx import is_partial
from ov.services import consumption as usage

DETAIL_ID = "consumo-detalle-{}"


def _detail_wanted(office) -> bool:
    """The lazy load of one contract's detail: a fragment request for the block of the
    contract in the query, and that contract one of the user's own."""
    if not is_partial() or len(office.chosen) != 1:
        return False
    account_id = office.chosen[0].id
    return (request.args.get("contrato") == str(account_id)
            and request.headers.get("HX-Target", "").endswith("#" + DETAIL_ID.format(account_id)))


@bp.get("/consumos")
def consumption():
    office = office_context()
    sections = usage.usage(office.scope)
    if _detail_wanted(office):
        [section] = sections
        response = make_response(render_template(
            "office/_usage_detail.html", section=section, key=section.account.id,
            reading_labels=READING_LABELS))
    else:
        response = page("office/consumption.html", "Mis consumos", office=office,
                        sections=sections, lazy=is_partial())
    response.vary.add("HX-Target")
    return response
