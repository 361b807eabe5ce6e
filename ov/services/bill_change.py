""""¿Por qué cambió mi factura?": the difference in the total between a bill and a reference
bill (the previous one, or the same period last year) split into causes a customer knows.

Pure: it reads two bills' lines (concept, quantity, unit, unit price, amount), days and
reading types, and works in ``Decimal``. The causes:

- ``consumption``: more or fewer m³ a day (at the reference bill's prices);
- ``days``: a longer or shorter period at the reference bill's daily use;
- ``correction``: the previous bill's estimated reading made good by this real one (or the
  customer's): of the m³ the two periods used together, this period's share by days is
  ``(q0 + q1) · d1 / (d0 + d1)``, and what this bill charges beyond (or below) it is the
  correction. Splitting by days ignores the seasons, so the sentence says how the figure was
  worked out rather than claiming the estimate was too high or too low;
- ``price``: a change of the price per m³ of a concept (the tariff), at this bill's m³;
- ``fixed``: a change of the fixed charge;
- ``late_fee``: the "Cargo por pago extemporáneo" appearing or going;
- ``other``: any other charge;
- ``tax``: only when the bills' IVA is not 16 % of their lines (odd imported data), the
  difference that the lines do not explain ("IVA y redondeo").

Each part includes its IVA and is rounded to the cent; the rounding left over (a few
centavos) is given to the largest part, so the parts add up exactly to the difference in the
totals. Parts that round to zero are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from ov.formatting import money, month_name, unit_price
from ov.models.billing import Invoice

TAX_RATE = Invoice.TAX_RATE
CENT = Decimal("0.01")
#: Two bills whose IVA is 16 % of their subtotal, each rounded to the cent, differ from
#: 16 % of the difference by at most a cent; more than that is odd data, told as its own part.
TAX_TOLERANCE = Decimal("0.01")
ACTUAL_READINGS = ("real", "customer")
M3_UNITS = ("m³", "m3")
ZERO = Decimal(0)
NBSP = "\u00a0"  # "41 m³" and "8 %" never break across lines


def days_between(start: date, end: date) -> int:
    """The days of a billed period, both ends included."""
    return (end - start).days + 1


def daily_average(m3: int, days: int) -> Decimal:
    """m³ a day to a tenth, as Mis consumos' "Promedio diario" shows it."""
    return (Decimal(m3) / days).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    concept: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Bill:
    period_start: date
    period_end: date
    reading_type: str
    consumption_m3: int
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    lines: tuple[Line, ...]
    invoice_id: int | None = None  # so a page can link to the bill (a reading corrects it)

    @property
    def days(self) -> int:
        return days_between(self.period_start, self.period_end)

    @property
    def estimated(self) -> bool:
        return self.reading_type == "estimated"

    @classmethod
    def from_invoice(cls, invoice, lines: Iterable | None = None) -> Bill:
        """The bill of an ``Invoice`` row, with ``lines`` (its ``InvoiceLine`` rows; by
        default the relationship's)."""
        rows = invoice.lines if lines is None else lines
        return cls(
            period_start=invoice.period_start, period_end=invoice.period_end,
            reading_type=invoice.reading_type, consumption_m3=invoice.consumption_m3,
            subtotal=Decimal(invoice.subtotal), tax=Decimal(invoice.tax),
            total=Decimal(invoice.total),
            lines=tuple(Line(row.concept, Decimal(row.quantity), row.unit,
                             Decimal(row.unit_price), Decimal(row.amount)) for row in rows),
            invoice_id=invoice.id,
        )


@dataclass(frozen=True)
class Part:
    kind: str
    amount: Decimal
    sentence: str


@dataclass(frozen=True)
class Change:
    now: Bill
    before: Bill | None
    reference: str  # "previous" or "year"
    parts: tuple[Part, ...]
    difference: Decimal
    headline: str
    # What rounding left over before it was given to the largest part (for the tests).
    residual: Decimal = ZERO

    @property
    def title(self) -> str:
        month = month_name(self.before.period_end)
        if self.reference == "year":
            return f"Frente al mismo periodo del año pasado ({month})"
        return f"Frente a tu factura anterior ({month})"


# --- how lines are read ---------------------------------------------------------------------

def _key(concept: str) -> str:
    return " ".join(concept.split()).casefold()


def _is_late_fee(line: Line) -> bool:
    return _key(line.concept).startswith(("cargo por pago extemporáneo",
                                          "cargo por pago extemporaneo"))


def _is_per_m3(line: Line) -> bool:
    return line.unit.strip().casefold() in M3_UNITS and not _is_late_fee(line)


def _is_fixed(line: Line) -> bool:
    return not _is_per_m3(line) and _key(line.concept).startswith("cargo fijo")


def _kind(line: Line) -> str:
    if _is_late_fee(line):
        return "late_fee"
    if _is_per_m3(line):
        return "per_m3"
    if _is_fixed(line):
        return "fixed"
    return "other"


@dataclass
class _PerM3:
    """One concept charged per m³ on one bill: its m³, price and amount (lines summed)."""

    concept: str
    quantity: Decimal = ZERO
    value: Decimal = ZERO  # sum of quantity × unit price
    amount: Decimal = ZERO
    last_price: Decimal = ZERO

    @property
    def price(self) -> Decimal:
        return self.value / self.quantity if self.quantity else self.last_price


@dataclass
class _Lines:
    """One bill's lines, read by what they charge: per m³ by concept, the fixed charge, the
    late fee, and any other charge by concept (its name as printed, and its amount)."""

    per_m3: dict[str, _PerM3] = field(default_factory=dict)
    fixed: Decimal = ZERO
    late_fee: Decimal = ZERO
    other: dict[str, tuple[str, Decimal]] = field(default_factory=dict)

    @property
    def other_total(self) -> Decimal:
        return sum((amount for _, amount in self.other.values()), ZERO)

    @classmethod
    def of(cls, bill: Bill) -> _Lines:
        read = cls()
        for line in bill.lines:
            kind, key = _kind(line), _key(line.concept)
            if kind == "per_m3":
                entry = read.per_m3.setdefault(key, _PerM3(line.concept))
                entry.quantity += line.quantity
                entry.value += line.quantity * line.unit_price
                entry.amount += line.amount
                entry.last_price = line.unit_price
            elif kind == "fixed":
                read.fixed += line.amount
            elif kind == "late_fee":
                read.late_fee += line.amount
            else:
                name, amount = read.other.get(key, (line.concept, ZERO))
                read.other[key] = (name, amount + line.amount)
        return read


# --- words ----------------------------------------------------------------------------------

def _more_or_less(amount: Decimal) -> str:
    return f"{money(abs(amount))} {'más' if amount > 0 else 'menos'}."


def _m3(value: Decimal) -> str:
    whole = abs(value).quantize(Decimal(1), ROUND_HALF_UP)
    return f"menos de 1{NBSP}m³" if whole == 0 else f"{int(whole):,}{NBSP}m³"


def _price(before: Decimal, now: Decimal) -> tuple[str, str]:
    """Two prices per m³ as a customer compares them: to the cent, or to the
    ten-thousandth of a peso when the cents alone would look equal."""
    if money(before) != money(now):
        return money(before), money(now)
    return unit_price(before), unit_price(now)


def _price_subject(concept: str) -> str:
    key = _key(concept)
    if key == "gas natural":
        return "El precio del gas natural"
    if key.startswith("cargo por "):
        return "El " + concept[0].lower() + concept[1:]
    return f"El precio de «{concept}»"


class _Words:
    """The sentences of one comparison: against the previous bill or last year's."""

    def __init__(self, reference: str) -> None:
        self.year = reference == "year"
        self.period = "el mismo periodo del año pasado" if self.year else "el periodo anterior"
        self.bill = ("La factura del mismo periodo del año pasado" if self.year
                     else "La factura anterior")
        self.days_than = "el del año pasado" if self.year else "el anterior"

    def consumption(self, m3: Decimal, amount: Decimal, *, daily: tuple[Decimal, Decimal],
                    days_differ: bool, against_estimate: bool, estimated: bool) -> str:
        """``estimated``: this bill's own reading is an estimate, so the m³ are what the bill
        estimates, not what the customer used. Periods of different lengths are compared by
        their m³ a day (``daily``: now, before), the figures of the table's "Promedio
        diario"; a correction of an estimate keeps the m³ left after it."""
        verb = "esta factura estima" if estimated else "usaste"
        if days_differ and not against_estimate:
            now, before = daily
            if now == before:
                sentence = (f"{verb} casi lo mismo al día que en {self.period} "
                            f"({now}{NBSP}m³): {_more_or_less(amount)}")
            else:
                sentence = (f"{verb} {now}{NBSP}m³ al día frente a {before}{NBSP}m³ al día "
                            f"en {self.period}: {_more_or_less(amount)}")
            return sentence[0].upper() + sentence[1:]
        direction = "más" if m3 > 0 or (m3 == 0 and amount > 0) else "menos"
        than = f"que lo estimado para {self.period}" if against_estimate else (
            f"que en {self.period}")
        sentence = f"{verb} {_m3(m3)} {direction} {than}: {_more_or_less(amount)}"
        if days_differ:
            return "Sin contar los días de diferencia, " + sentence
        return sentence[0].upper() + sentence[1:]

    def days(self, now: int, before: int, amount: Decimal) -> str:
        gap = abs(now - before)
        direction = "más" if now > before else "menos"
        return (f"Tu periodo tuvo {now} días, {gap} {direction} que {self.days_than}: "
                f"{_more_or_less(amount)}")

    @staticmethod
    def correction(now: Bill, before: Bill, share: Decimal, amount: Decimal) -> str:
        """How the correction was worked out: the two periods' m³ shared by days."""
        reading = "tu lectura" if now.reading_type == "customer" else "una lectura real"
        used = before.consumption_m3 + now.consumption_m3
        return (f"Tu factura anterior tenía una lectura estimada "
                f"({before.consumption_m3:,}{NBSP}m³) y esta tiene {reading}: entre las dos "
                f"usaste {used:,}{NBSP}m³ en "
                f"{before.days + now.days} días; repartidos por días, a este periodo le tocan "
                f"unos {_m3(share)} y esta factura cobra {now.consumption_m3:,}: "
                f"{_more_or_less(amount)}")

    def price(self, concept: str, before: Decimal | None, now: Decimal | None,
              amount: Decimal) -> str:
        if before is None:
            shown = money(now) if now == now.quantize(CENT) else unit_price(now)
            return f"Se agregó el cargo «{concept}» de {shown} por m³: {_more_or_less(amount)}"

        if now is None:
            return f"Ya no se cobra «{concept}» por m³: {_more_or_less(amount)}"
        old, new = _price(before, now)
        moved = "subió" if now > before else "bajó" if now < before else "se ajustó"
        return (f"{_price_subject(concept)} {moved} de {old} a {new} por m³: "
                f"{_more_or_less(amount)}")

    def fixed(self, before: Decimal, now: Decimal, amount: Decimal) -> str:
        if before == 0:
            return f"Esta factura incluye un cargo fijo de {money(now)}: {_more_or_less(amount)}"
        if now == 0:
            return f"Esta factura no tiene cargo fijo: {_more_or_less(amount)}"
        moved = "subió" if now > before else "bajó"
        return (f"El cargo fijo {moved} de {money(before)} a {money(now)}: "
                f"{_more_or_less(amount)}")

    def late_fee(self, before: Decimal, now: Decimal, amount: Decimal) -> str:
        if before == 0:
            return f"Esta factura incluye un cargo por pago extemporáneo: {_more_or_less(amount)}"
        if now == 0:
            return (f"{self.bill} incluía un cargo por pago extemporáneo y esta no: "
                    f"{_more_or_less(amount)}")
        return (f"El cargo por pago extemporáneo pasó de {money(before)} a {money(now)}: "
                f"{_more_or_less(amount)}")

    def other(self, names: list[str], before: Decimal, now: Decimal, amount: Decimal) -> str:
        listed = ", ".join(names)
        if before == 0:
            return f"Esta factura incluye otros cargos ({listed}): {_more_or_less(amount)}"
        if now == 0:
            return (f"{self.bill} incluía otros cargos ({listed}) que esta no tiene: "
                    f"{_more_or_less(amount)}")
        return f"Cambiaron otros cargos ({listed}): {_more_or_less(amount)}"

    @staticmethod
    def tax(amount: Decimal) -> str:
        return f"Diferencia en el IVA y el redondeo: {_more_or_less(amount)}"


def _headline(now: Bill, before: Bill, difference: Decimal) -> str:
    with_year = now.period_end.year != before.period_end.year
    this = month_name(now.period_end, with_year=with_year)
    that = month_name(before.period_end, with_year=with_year)
    start = f"Tu factura de {this} es de {money(now.total)}"
    if difference == 0:
        return f"{start}, lo mismo que la de {that}."
    word = "más" if difference > 0 else "menos"
    return f"{start}: {money(abs(difference))} {word} que la de {that}."


# --- the split ------------------------------------------------------------------------------

def first_bill(now: Bill) -> Change:
    """The oldest bill the portal holds for a contract (not necessarily the contract's
    first): nothing online to compare it with, and it says so."""
    headline = (f"Tu factura de {month_name(now.period_end, with_year=False)} es de "
                f"{money(now.total)}. No tenemos en línea una factura anterior con qué "
                "compararla.")
    return Change(now, None, "previous", (), ZERO, headline)


def compare(now: Bill, before: Bill, *, reference: str = "previous") -> Change:
    """Split ``now.total - before.total`` into parts that add up to it exactly.

    ``reference`` is ``"previous"`` (the bill just before: an estimate can be corrected) or
    ``"year"`` (the same period last year).
    """
    words = _Words(reference)
    difference = now.total - before.total
    with localcontext() as context:
        context.prec = 50
        raw = _raw_parts(now, before, reference, words)
        with_tax = [(kind, amount * (1 + TAX_RATE), sentence) for kind, amount, sentence in raw]
        lines_now = sum((line.amount for line in now.lines), ZERO)
        lines_before = sum((line.amount for line in before.lines), ZERO)
        unexplained = difference - (1 + TAX_RATE) * (lines_now - lines_before)
    rounded = [(kind, amount.quantize(CENT, ROUND_HALF_UP), sentence)
               for kind, amount, sentence in with_tax]
    residual = difference - sum((amount for _, amount, _ in rounded), ZERO)
    parts = [(kind, amount, sentence) for kind, amount, sentence in rounded if amount != 0]
    if residual and (abs(unexplained) > TAX_TOLERANCE or not parts):
        parts.append(("tax", residual, None))
    elif residual:
        largest = max(range(len(parts)), key=lambda index: abs(parts[index][1]))
        kind, amount, sentence = parts[largest]
        parts[largest] = (kind, amount + residual, sentence)
    final = tuple(
        Part(kind, amount, (sentence or _Words.tax)(amount))
        for kind, amount, sentence in parts if amount != 0
    )
    return Change(now, before, reference, final, difference,
                  _headline(now, before, difference), residual)


def _raw_parts(now: Bill, before: Bill, reference: str, words: _Words) -> list:
    """Each cause before IVA and rounding, as (kind, amount, sentence maker); a price change
    per concept charged per m³. What the lines' amounts differ from quantity × price (their own
    rounding, sub-cent) is left to the residual."""
    lines_now, lines_before = _Lines.of(now), _Lines.of(before)
    per_now, per_before = lines_now.per_m3, lines_before.per_m3
    parts: list = []

    # What the m³ charged per concept would have cost at the reference bill's prices.
    both = [key for key in per_now if key in per_before]
    base_price = sum((per_before[key].price for key in both), ZERO)
    quantity_effect = sum(
        ((per_now[key].quantity - per_before[key].quantity) * per_before[key].price
         for key in both), ZERO)
    q0, q1 = Decimal(before.consumption_m3), Decimal(now.consumption_m3)
    d0, d1 = Decimal(before.days), Decimal(now.days)
    days_m3 = q0 * (d1 - d0) / d0
    correction_m3 = share = ZERO
    corrects = (reference == "previous" and before.reading_type == "estimated"
                and now.reading_type in ACTUAL_READINGS)
    if corrects and q0 + q1:
        share = (q0 + q1) * d1 / (d0 + d1)
        correction_m3 = q1 - share
    consumption_m3 = q1 - q0 - days_m3 - correction_m3
    days_amount = days_m3 * base_price
    correction_amount = correction_m3 * base_price
    consumption_amount = quantity_effect - days_amount - correction_amount

    def later(maker, *args):
        return lambda amount: maker(*args, amount)

    parts.append(("consumption", consumption_amount, lambda amount: words.consumption(
        consumption_m3, amount, days_differ=d0 != d1, against_estimate=corrects,
        estimated=now.estimated,
        daily=(daily_average(now.consumption_m3, now.days),
               daily_average(before.consumption_m3, before.days)))))
    parts.append(("days", days_amount, later(words.days, now.days, before.days)))
    parts.append(("correction", correction_amount, later(words.correction, now, before, share)))

    # Prices per m³: each concept on its own, at this bill's m³.
    for key, entry in per_now.items():
        old = per_before.get(key)
        if old is None:
            amount = entry.quantity * entry.price
            parts.append(("price", amount, later(words.price, entry.concept, None, entry.price)))
        else:
            amount = entry.quantity * (entry.price - old.price)
            parts.append(("price", amount,
                          later(words.price, entry.concept, old.price, entry.price)))
    for key, old in per_before.items():
        if key not in per_now:
            amount = -old.quantity * old.price
            parts.append(("price", amount, later(words.price, old.concept, old.price, None)))
    parts.append(("fixed", lines_now.fixed - lines_before.fixed,
                  later(words.fixed, lines_before.fixed, lines_now.fixed)))
    parts.append(("late_fee", lines_now.late_fee - lines_before.late_fee,
                  later(words.late_fee, lines_before.late_fee, lines_now.late_fee)))
    other_now, other_before = lines_now.other, lines_before.other
    changed = [
        (other_now.get(key) or other_before[key])[0]
        for key in dict.fromkeys([*other_now, *other_before])
        if other_now.get(key, ("", ZERO))[1] != other_before.get(key, ("", ZERO))[1]
    ]
    parts.append(("other", lines_now.other_total - lines_before.other_total,
                  later(words.other, changed, lines_before.other_total, lines_now.other_total)))
    return parts

