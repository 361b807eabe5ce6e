""""¿Por qué cambió mi factura?": the difference in the total split into its causes.

The parts always add up exactly to the difference (a property over generated bills), each
cause is found alone in an example, and each is said in one plain Spanish sentence.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from ov.services.bill_change import Bill, Line, compare, first_bill

CENT = Decimal("0.01")
FIXED = "Cargo fijo"
GAS = "Gas natural"
DISTRIBUTION = "Cargo por distribución"
LATE = "Cargo por pago extemporáneo"
NBSP = "\u00a0"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def bill(m3: int, *, gas: str = "6.4500", dist: str = "3.4210", fixed: str = "62.50",
         days: int = 30, end: date = date(2026, 10, 25), reading: str = "real",
         late: str | None = None, others: tuple[tuple[str, str], ...] = (),
         tax: Decimal | None = None) -> Bill:
    """A bill built the way the billing system builds them (ov/services/demo_data.py)."""
    lines = [Line(FIXED, Decimal(1), "servicio", Decimal(fixed), cents(Decimal(fixed))),
             Line(GAS, Decimal(m3), "m³", Decimal(gas), cents(m3 * Decimal(gas))),
             Line(DISTRIBUTION, Decimal(m3), "m³", Decimal(dist), cents(m3 * Decimal(dist)))]
    if late:
        lines.append(Line(LATE, Decimal(1), "servicio", Decimal(late), Decimal(late)))
    for concept, amount in others:
        lines.append(Line(concept, Decimal(1), "servicio", Decimal(amount), Decimal(amount)))
    subtotal = sum((line.amount for line in lines), Decimal(0))
    tax = cents(subtotal * Decimal("0.16")) if tax is None else tax
    return Bill(period_start=end - timedelta(days=days - 1), period_end=end,
                reading_type=reading, consumption_m3=m3, subtotal=subtotal, tax=tax,
                total=subtotal + tax, lines=tuple(lines))


def kinds(change) -> dict[str, Decimal]:
    return {part.kind: part.amount for part in change.parts}


def assert_adds_up(change, now: Bill, before: Bill) -> None:
    assert sum((part.amount for part in change.parts), Decimal(0)) == now.total - before.total
    assert all(part.amount != 0 for part in change.parts)
    assert all(part.amount == part.amount.quantize(CENT) for part in change.parts)


# --- one cause at a time ------------------------------------------------------------------

def test_the_same_bill_twice_has_no_parts_and_says_so():
    before = bill(20, end=date(2026, 9, 25))
    now = bill(20)
    change = compare(now, before)
    assert change.parts == ()
    assert change.difference == 0
    assert change.headline == (f"Tu factura de octubre es de ${now.total:,}, lo mismo que la "
                               "de septiembre.")


def test_more_gas_is_the_consumption_part_with_its_tax():
    before, now = bill(20, end=date(2026, 9, 25)), bill(32)
    change = compare(now, before)
    assert_adds_up(change, now, before)
    assert set(kinds(change)) == {"consumption"}
    expected = cents(12 * (Decimal("6.4500") + Decimal("3.4210")) * Decimal("1.16"))
    assert abs(kinds(change)["consumption"] - expected) <= CENT
    sentence = change.parts[0].sentence
    assert sentence == (f"Usaste 12{NBSP}m³ más que en el periodo anterior: "
                        f"${kinds(change)['consumption']} más.")
    assert change.headline.startswith("Tu factura de octubre es de $")
    assert change.headline.endswith(f"${change.difference} más que la de septiembre.")


def test_less_gas_says_less():
    change = compare(bill(10), bill(25, end=date(2026, 9, 25)))
    assert set(kinds(change)) == {"consumption"}
    assert kinds(change)["consumption"] < 0
    part = change.parts[0]
    assert part.sentence.startswith(f"Usaste 15{NBSP}m³ menos que en el periodo anterior: $")
    assert part.sentence.endswith(" menos.")
    assert "-" not in part.sentence


def test_a_higher_gas_price_is_the_price_part():
    before = bill(30, gas="6.4500", end=date(2026, 9, 25))
    now = bill(30, gas="6.6700")
    change = compare(now, before)
    assert_adds_up(change, now, before)
    assert set(kinds(change)) == {"price"}
    assert kinds(change)["price"] == cents(30 * Decimal("0.22") * Decimal("1.16"))
    assert change.parts[0].sentence == (
        f"El precio del gas natural subió de $6.45 a $6.67 por m³: ${kinds(change)['price']} más."
    )


def test_a_price_change_beyond_the_cent_shows_four_decimals():
    change = compare(bill(30, dist="3.4230"), bill(30, dist="3.4210", end=date(2026, 9, 25)))
    assert change.parts[0].kind == "price"
    assert change.parts[0].sentence.startswith(
        "El cargo por distribución subió de $3.4210 a $3.4230 por m³: $")


def test_a_new_fixed_charge_is_a_tariff_change():
    change = compare(bill(30, fixed="70.00"), bill(30, end=date(2026, 9, 25)))
    assert kinds(change) == {"fixed": cents(Decimal("7.50") * Decimal("1.16"))}
    assert change.parts[0].sentence == "El cargo fijo subió de $62.50 a $70.00: $8.70 más."


def test_more_days_at_the_same_daily_use_is_the_days_part():
    before = bill(30, days=30, end=date(2026, 9, 25))
    now = bill(33, days=33)  # one m³ a day, as before
    change = compare(now, before)
    assert_adds_up(change, now, before)
    assert set(kinds(change)) == {"days"}
    assert change.parts[0].sentence == (
        f"Tu periodo tuvo 33 días, 3 más que el anterior: ${kinds(change)['days']} más.")


def test_days_and_daily_use_are_told_apart():
    before = bill(30, days=30, end=date(2026, 9, 25))
    now = bill(30, days=33)  # the same m³ over more days: less gas a day
    change = compare(now, before)
    assert_adds_up(change, now, before)
    parts = kinds(change)
    assert parts["days"] > 0 and parts["consumption"] < 0
    assert parts["days"] == -parts["consumption"]
    sentence = next(p.sentence for p in change.parts if p.kind == "consumption")
    # In m³ a day, the figures of Mis consumos' "Promedio diario" (30 / 33 and 30 / 30).
    assert sentence == (f"Usaste 0.9{NBSP}m³ al día frente a 1.0{NBSP}m³ al día en el "
                        f"periodo anterior: ${-parts['consumption']} menos.")


def test_a_daily_use_that_rounds_the_same_says_almost_the_same():
    before = bill(300, days=30, end=date(2026, 9, 25))  # 10.0 a day
    now = bill(331, days=33)  # 10.03 a day
    change = compare(now, before)
    sentence = next(p.sentence for p in change.parts if p.kind == "consumption")
    assert sentence.startswith(f"Usaste casi lo mismo al día que en el periodo anterior "
                               f"(10.0{NBSP}m³): $")


def test_an_estimate_corrected_by_a_real_reading():
    """20 m³ estimated, then 40 m³ read for periods of equal length: the two periods used
    60 m³, 30 each; this bill charges the 10 the estimate left out."""
    before = bill(20, reading="estimated", end=date(2026, 9, 25))
    now = bill(40)
    change = compare(now, before)
    assert_adds_up(change, now, before)
    parts = kinds(change)
    per_m3 = (Decimal("6.4500") + Decimal("3.4210")) * Decimal("1.16")
    assert abs(parts["correction"] - cents(10 * per_m3)) <= CENT
    assert abs(parts["consumption"] - cents(10 * per_m3)) <= CENT
    correction = next(p.sentence for p in change.parts if p.kind == "correction")
    assert correction == (
        f"Tu factura anterior tenía una lectura estimada (20{NBSP}m³) y esta tiene una lectura "
        f"real: entre las dos usaste 60{NBSP}m³ en 60 días; repartidos por días, a este "
        f"periodo le tocan unos 30{NBSP}m³ y esta factura cobra 40: "
        f"${parts['correction']} más.")
    consumption = next(p.sentence for p in change.parts if p.kind == "consumption")
    assert consumption.startswith(f"Usaste 10{NBSP}m³ más que lo estimado para el periodo "
                                  "anterior")


def test_a_correction_says_how_it_was_worked_out_not_that_the_estimate_was_high():
    """The seed's abril 2026 bill: March estimated 37 m³ over 31 days, April read 32 m³ over
    30. Shared by days, April's part of the 69 m³ is about 34: the bill says that, not that
    the estimate was higher than what was used (splitting by days ignores the seasons)."""
    before = bill(37, reading="estimated", days=31, end=date(2026, 3, 31))
    now = bill(32, days=30, end=date(2026, 4, 30))
    change = compare(now, before)
    assert_adds_up(change, now, before)
    assert kinds(change)["correction"] < 0
    sentence = next(p.sentence for p in change.parts if p.kind == "correction")
    assert sentence == (
        f"Tu factura anterior tenía una lectura estimada (37{NBSP}m³) y esta tiene una lectura "
        f"real: entre las dos usaste 69{NBSP}m³ en 61 días; repartidos por días, a este "
        f"periodo le tocan unos 34{NBSP}m³ y esta factura cobra 32: "
        f"${-kinds(change)['correction']} menos.")
    assert "mayor que tu consumo" not in sentence and "descuenta" not in sentence


def test_a_customers_own_reading_corrects_an_estimate_too():
    change = compare(bill(40, reading="customer"),
                     bill(20, reading="estimated", end=date(2026, 9, 25)))
    assert kinds(change)["correction"] > 0
    sentence = next(p.sentence for p in change.parts if p.kind == "correction")
    assert " y esta tiene tu lectura: " in sentence and "lectura real" not in sentence


def test_an_estimated_bill_says_what_it_estimates_not_what_you_used():
    before = bill(20, end=date(2026, 9, 25))
    now = bill(25, reading="estimated")
    change = compare(now, before)
    assert change.now.estimated and not before.estimated
    sentence = next(p.sentence for p in change.parts if p.kind == "consumption")
    assert sentence.startswith(f"Esta factura estima 5{NBSP}m³ más que en el periodo anterior: $")
    assert "Usaste" not in sentence and "usaste" not in sentence
    longer = compare(bill(25, reading="estimated", days=33), before)
    sentence = next(p.sentence for p in longer.parts if p.kind == "consumption")
    assert sentence.startswith(f"Esta factura estima 0.8{NBSP}m³ al día frente a 0.7{NBSP}m³ "
                               "al día en el periodo anterior: $")


def test_no_correction_after_a_real_reading_or_against_last_year():
    real_before = compare(bill(40), bill(20, end=date(2026, 9, 25)))
    assert "correction" not in kinds(real_before)
    year = compare(bill(40), bill(20, reading="estimated", end=date(2025, 10, 25)),
                   reference="year")
    assert "correction" not in kinds(year)
    assert year.headline.endswith("más que la de octubre de 2025.")
    assert year.headline.startswith("Tu factura de octubre de 2026 es de $")
    assert next(p.sentence for p in year.parts).startswith(
        f"Usaste 20{NBSP}m³ más que en el mismo periodo del año pasado: $")


def test_a_late_fee_appears_and_goes():
    before, now = bill(30, end=date(2026, 9, 25)), bill(30, late="45.00")
    change = compare(now, before)
    assert kinds(change) == {"late_fee": Decimal("52.20")}
    assert change.parts[0].sentence == (
        "Esta factura incluye un cargo por pago extemporáneo: $52.20 más.")
    back = compare(bill(30), bill(30, late="45.00", end=date(2026, 9, 25)))
    assert kinds(back) == {"late_fee": Decimal("-52.20")}
    assert back.parts[0].sentence == ("La factura anterior incluía un cargo por pago "
                                      "extemporáneo y esta no: $52.20 menos.")


def test_other_charges_are_named():
    change = compare(bill(30, others=(("Reconexión del servicio", "150.00"),)),
                     bill(30, end=date(2026, 9, 25)))
    assert kinds(change) == {"other": Decimal("174.00")}
    assert change.parts[0].sentence == (
        "Esta factura incluye otros cargos (Reconexión del servicio): $174.00 más.")


def test_other_charges_that_change_are_listed_and_those_that_do_not_are_not():
    before = bill(30, end=date(2026, 9, 25),
                  others=(("Depósito", "50.00"), ("Reconexión", "150.00")))
    now = bill(30, others=(("Depósito", "50.00"), ("Reconexión", "100.00"),
                           ("Ajuste por medidor", "10.00")))
    change = compare(now, before)
    assert kinds(change) == {"other": Decimal("-46.40")}
    assert change.parts[0].sentence == (
        "Cambiaron otros cargos (Reconexión, Ajuste por medidor): $46.40 menos.")


def test_a_charge_per_m3_added_or_removed_is_a_price_change():
    extra = Line("Cargo por conducción", Decimal(30), "m³", Decimal("0.5000"), Decimal("15.00"))
    plain = bill(30, end=date(2026, 9, 25))
    added = bill(30)
    added = Bill(added.period_start, added.period_end, "real", 30, added.subtotal + 15,
                 cents((added.subtotal + 15) * Decimal("0.16")),
                 added.subtotal + 15 + cents((added.subtotal + 15) * Decimal("0.16")),
                 added.lines + (extra,))
    change = compare(added, plain)
    assert kinds(change) == {"price": Decimal("17.40")}
    assert change.parts[0].sentence == ("Se agregó el cargo «Cargo por conducción» de $0.50 "
                                        "por m³: $17.40 más.")
    gone = compare(bill(30, end=date(2026, 11, 25)), added)
    assert gone.parts[0].sentence == "Ya no se cobra «Cargo por conducción» por m³: $17.40 menos."


def test_an_odd_tax_is_its_own_part():
    before = bill(30, end=date(2026, 9, 25))
    now = bill(30, tax=before.tax + Decimal("3.17"))  # imported with a tax off the 16 %
    change = compare(now, before)
    assert_adds_up(change, now, before)
    assert kinds(change) == {"tax": Decimal("3.17")}
    assert change.parts[0].sentence == "Diferencia en el IVA y el redondeo: $3.17 más."


def test_a_rounding_cent_goes_to_the_largest_part():
    before = bill(17, gas="6.4567", end=date(2026, 9, 25))
    now = bill(23, gas="6.4573", fixed="63.01", late="45.00")
    change = compare(now, before)
    assert_adds_up(change, now, before)
    assert "tax" not in kinds(change)
    assert abs(change.residual) <= Decimal("0.07")


def test_zero_consumption_in_both_leaves_only_the_fixed_charge():
    change = compare(bill(0, fixed="70.00"), bill(0, end=date(2026, 9, 25)))
    assert set(kinds(change)) == {"fixed"}


def test_the_oldest_bill_online_says_there_is_none_to_compare_with():
    """It is only the oldest bill the portal holds, not necessarily the contract's first."""
    change = first_bill(bill(30))
    assert change.parts == ()
    assert change.headline == ("Tu factura de octubre es de "
                               f"${bill(30).total:,}. No tenemos en línea una factura anterior "
                               "con qué compararla.")
    assert "primera" not in change.headline


def test_every_part_is_one_plain_sentence():
    before = bill(20, gas="6.45", fixed="62.50", days=28, reading="estimated",
                  end=date(2026, 9, 25), others=(("Reconexión", "99.00"),))
    now = bill(41, gas="6.67", fixed="64.00", days=31, late="45.00")
    change = compare(now, before)
    assert_adds_up(change, now, before)
    assert {"consumption", "price", "fixed", "days", "correction", "late_fee",
            "other"} <= set(kinds(change))
    for part in change.parts:
        assert not re.search(r"[.;:!?]\s+[A-ZÁÉÍÓÚÑ¿¡]", part.sentence), part.sentence
        assert part.sentence.endswith((" más.", " menos.")), part.sentence
        assert part.sentence[0].isupper()


# --- the property: whatever the bills, the parts add up exactly ---------------------------

money = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False,
                    allow_infinity=False)
price = st.decimals(min_value=0, max_value=30, places=4, allow_nan=False, allow_infinity=False)
concepts = st.sampled_from([FIXED, GAS, DISTRIBUTION, LATE, "Reconexión", "Depósito",
                            "Ajuste por medidor", "Cargo fijo comercial"])


@st.composite
def bills(draw, end: date) -> Bill:
    m3 = draw(st.integers(min_value=0, max_value=5000))
    days = draw(st.integers(min_value=1, max_value=70))
    lines = []
    for concept in draw(st.lists(concepts, max_size=7)):
        per_m3 = draw(st.booleans()) if concept not in (FIXED, LATE) else False
        if per_m3:
            quantity = Decimal(draw(st.one_of(st.just(m3),
                                              st.integers(min_value=0, max_value=5000))))
            unit_price = draw(price)
            amount = cents(quantity * unit_price)
            unit = "m³"
        else:
            quantity, unit = Decimal(1), draw(st.sampled_from(["servicio", "mes"]))
            amount = draw(money)
            unit_price = amount
        if draw(st.integers(0, 9)) == 0:  # imported data whose amount is not q × p
            amount = draw(money)
        lines.append(Line(concept, quantity, unit, unit_price, amount))
    subtotal = sum((line.amount for line in lines), Decimal(0))
    if draw(st.integers(0, 9)) == 0:
        subtotal = draw(money)  # a subtotal that is not the sum of its lines
    tax = draw(st.one_of(st.just(cents(subtotal * Decimal("0.16"))), money))
    total = subtotal + tax if draw(st.integers(0, 9)) else draw(money)
    return Bill(period_start=end - timedelta(days=days - 1), period_end=end,
                reading_type=draw(st.sampled_from(["real", "estimated", "customer"])),
                consumption_m3=m3, subtotal=subtotal, tax=tax, total=total,
                lines=tuple(lines))


@given(now=bills(date(2026, 10, 25)), before=bills(date(2026, 9, 25)),
       reference=st.sampled_from(["previous", "year"]))
def test_the_parts_always_add_up_to_the_difference(now, before, reference):
    change = compare(now, before, reference=reference)
    assert_adds_up(change, now, before)
    assert change.difference == now.total - before.total
    assert all(part.kind == "price" for part in change.parts
               if [p.kind for p in change.parts].count(part.kind) > 1)
    for part in change.parts:
        assert part.sentence.endswith((" más.", " menos."))
        assert "$-" not in part.sentence and "-$" not in part.sentence


@given(m3_now=st.integers(0, 3000), m3_before=st.integers(0, 3000),
       days_now=st.integers(1, 70), days_before=st.integers(1, 70),
       gas_now=price, gas_before=price, late_now=st.booleans(), late_before=st.booleans(),
       estimated=st.booleans())
def test_bills_built_as_billed_need_no_tax_part(m3_now, m3_before, days_now, days_before,
                                                gas_now, gas_before, late_now, late_before,
                                                estimated):
    """With the tax at 16 % of the subtotal, only rounding is left over, given to the
    largest part, never a part of its own: at most a cent of the two taxes, half a cent for
    each per-m³ line of each bill (with its IVA) and half a cent for each part."""
    before = bill(m3_before, gas=str(gas_before), days=days_before, end=date(2026, 9, 25),
                  reading="estimated" if estimated else "real",
                  late="45.00" if late_before else None)
    now = bill(m3_now, gas=str(gas_now), days=days_now, late="45.00" if late_now else None)
    change = compare(now, before)
    assert_adds_up(change, now, before)
    assert "tax" not in kinds(change)
    assert abs(change.residual) <= Decimal("0.07")
