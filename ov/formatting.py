"""How Mexican customers read money, dates and quantities: ``$3,639.00``, ``dd/mm/aaaa``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from flask import Flask

LOCAL_TIME = ZoneInfo("America/Mexico_City")
MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
          "septiembre", "octubre", "noviembre", "diciembre")


def money(amount: Decimal | int | float | None) -> str:
    """``$3,639.00``; negative amounts as ``-$12.50``."""
    value = Decimal(amount or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def day(value: date | datetime | None) -> str:
    """``dd/mm/aaaa`` (a datetime is shown in Mexico City time)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TIME) if value.tzinfo else value
    return value.strftime("%d/%m/%Y")


def moment(value: datetime | None) -> str:
    """``dd/mm/aaaa hh:mm`` in Mexico City time."""
    if value is None:
        return ""
    return value.astimezone(LOCAL_TIME).strftime("%d/%m/%Y %H:%M")


def month_name(value: date, with_year: bool = True) -> str:
    """``noviembre de 2026``; ``noviembre`` with ``with_year=False``."""
    name = MONTHS[value.month - 1]
    return f"{name} de {value.year}" if with_year else name


def number(value: int | Decimal | None) -> str:
    """Thousands with commas: ``12,345``."""
    return f"{value or 0:,}"


def quantity(value: Decimal | int) -> str:
    """``1``, ``34``, ``12.5``, ``1,250``: a billed quantity without trailing zeros."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


def unit_price(value: Decimal | int) -> str:
    """``$8.1234``: a unit price as billed, to the ten-thousandth of a peso, so that quantity
    times price gives the amount shown beside it."""
    return f"${Decimal(value):,.4f}"


def clabe(value: str) -> str:
    """``012 180 00123456789 9``: bank, place, account and check digit, as banks print it."""
    return f"{value[:3]} {value[3:6]} {value[6:17]} {value[17:]}"


def init_app(app: Flask) -> None:
    for name, function in (("money", money), ("day", day), ("moment", moment),
                           ("month_name", month_name), ("number", number),
                           ("quantity", quantity), ("unit_price", unit_price),
                           ("clabe", clabe)):
        app.add_template_filter(function, name)
