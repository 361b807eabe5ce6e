"""What a form's answer costs against Flask-Limiter's limits (``deduct_when=refused``)."""

from __future__ import annotations

from flask import Response


def refused(response: Response) -> bool:
    """A refused answer (4xx: a wrong bill, a wrong CAPTCHA answer) counts against the limit.

    An outage (5xx: the CAPTCHA provider or the database is down) does not: the customer
    typed nothing wrong, and retrying once it is back must still work.
    """
    return 400 <= response.status_code < 500
