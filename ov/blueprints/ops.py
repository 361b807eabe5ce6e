"""Operations: liveness and readiness for the load balancer and the process manager.

``/healthz`` says the process answers; it reads nothing, so a process is never restarted
because a dependency is down (a restart would not bring it back). ``/readyz`` says whether
this process can serve customers now: the database answers, and Redis when it is
configured. A 503 names what is down, so a proxy stops sending customers here and an
operator knows where to look; it turns back to 200 by itself once the dependency is back.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ov.errors import RETRY_SECONDS
from ov.extensions import db
from ov.outages import DATABASE_ERRORS, REDIS_ERRORS

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers: nothing else is checked."""
    return jsonify(status="ok")


def _database() -> str:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DATABASE_ERRORS as exc:
        current_app.logger.error("readiness: database unavailable: %s", type(exc).__name__)
        return "unavailable"
    return "ok"


def _redis() -> str:
    # OV_REDIS_URL is where the sessions are kept: ask their client (and its timeouts).
    try:
        current_app.session_interface.client.ping()  # type: ignore[attr-defined]
    except REDIS_ERRORS as exc:
        current_app.logger.error("readiness: redis unavailable: %s", type(exc).__name__)
        return "unavailable"
    return "ok"


@bp.get("/readyz")
def readyz():
    """Ready when the database answers a trivial query, and Redis (if used) a ping."""
    checks = {"database": _database()}
    if current_app.config["OV_REDIS_URL"]:
        checks["redis"] = _redis()
    if all(state == "ok" for state in checks.values()):
        return jsonify(status="ok", **checks)
    response = jsonify(status="unavailable", **checks)
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_SECONDS[503])
    return response
