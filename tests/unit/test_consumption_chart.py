"""Mis consumos' chart and summary, from the periods alone (no database, no HTTP)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from ov.services.consumption import CHAR, MIN_ESTIMATE, Period, chart, summary, year_ago


def period(year: int, month: int, m3: int, reading: str = "real", days: int = 30) -> Period:
    end = date(year, month, 25)
    return Period(invoice_id=year * 100 + month, period_start=end - timedelta(days=days - 1),
                  period_end=end, reading=1000 + m3, reading_type=reading, m3=m3,
                  amount=Decimal("100.00") + m3)


def months(first: tuple[int, int], values: list[int], estimated: set[int] = frozenset()):
    year, month = first
    made = []
    for index, value in enumerate(values):
        y, m = divmod(year * 12 + month - 1 + index, 12)
        made.append(period(y, m + 1, value, "estimated" if index in estimated else "real"))
    return made


# --- the chart --------------------------------------------------------------------------------

def test_bars_are_as_tall_as_their_consumption_on_a_round_scale():
    data = chart(months((2025, 1), [10, 20, 40, 0]))
    assert data.top == 40
    heights = [bar.height for bar in data.bars]
    assert heights[2] == pytest.approx(data.plot_height)
    assert heights[1] == pytest.approx(data.plot_height / 2)
    assert heights[0] == pytest.approx(data.plot_height / 4)
    assert heights[3] == 0
    for bar in data.bars:  # every bar stands on the baseline
        assert bar.y + bar.height == pytest.approx(data.baseline)
    assert [label for _, label in data.grid] == ["0", "20", "40"]


def test_the_scale_rounds_up_to_a_step_a_customer_reads():
    assert chart(months((2025, 1), [37])).top == 40
    assert chart(months((2025, 1), [163])).top == 200
    assert chart(months((2025, 1), [1234])).top == 1500
    assert chart(months((2025, 1), [0, 0])).top == 10  # nothing used: still a scale


def test_estimated_periods_are_flagged():
    data = chart(months((2025, 1), [10, 20, 30, 40, 50], estimated={1, 3}))
    assert [bar.estimated for bar in data.bars] == [False, True, False, True, False]


def test_months_are_labelled_by_initial_and_years_where_they_start():
    data = chart(months((2024, 11), [5] * 24))
    assert len(data.bars) == 24
    assert "".join(bar.label for bar in data.bars) == "NDEFMAMJJASONDEFMAMJJASO"
    # The first bar is two slots from January: the year goes under each January only.
    assert [label for _, label in data.years] == ["2025", "2026"]
    years_at = [x for x, _ in data.years]  # the middle of each number on its bar's
    assert years_at == [data.bars[2].center, data.bars[14].center]
    assert chart(months((2025, 3), [5] * 3)).years[0][1] == "2025"  # no January: the first


@pytest.mark.parametrize("count", [24, 12, 5, 1])
def test_a_year_under_the_newest_bar_stays_inside_the_drawing(count):
    """The newest period ends in January: its year, under the last bar at the right edge,
    is moved in rather than cut off ("2026" shown as "20")."""
    year, month = divmod(2026 * 12 - (count - 1), 12)
    history = months((year, month + 1), [5] * count)
    assert history[-1].period_end.month == 1
    data = chart(history)
    middle, label = data.years[-1]
    assert label == str(history[-1].period_end.year)
    half = CHAR * len(label) / 2
    assert middle - half >= 0 and middle + half <= data.width
    assert abs(middle - data.bars[-1].center) <= half  # still under its bar
    for (a, _), (b, _) in zip(data.years, data.years[1:], strict=False):
        assert b - a >= 2 * half  # the years never touch


def test_the_first_years_number_gives_way_to_a_january_too_close():
    data = chart(months((2024, 11), [5] * 24))  # January two bars after the first
    assert [label for _, label in data.years] == ["2025", "2026"]
    data = chart(months((2024, 8), [5] * 24))  # January five bars on: room for both
    assert [label for _, label in data.years] == ["2024", "2025", "2026"]


def test_an_estimate_of_zero_still_shows_its_mark():
    data = chart(months((2026, 1), [0, 0, 20], estimated={1}))
    real, estimate, _ = data.bars
    assert real.height == 0
    assert estimate.height == MIN_ESTIMATE
    assert estimate.y + estimate.height == pytest.approx(data.baseline)


def test_bars_never_overlap_and_stay_inside_the_drawing():
    data = chart(months((2024, 11), list(range(24))))
    for left, right in zip(data.bars, data.bars[1:], strict=False):
        assert left.x + left.width < right.x
    assert data.bars[0].x >= data.left
    assert data.bars[-1].x + data.bars[-1].width <= data.width


# --- the summary ------------------------------------------------------------------------------

def test_the_summary_compares_with_the_same_month_last_year():
    history = months((2025, 10), [22] + [30] * 11 + [26])
    assert summary(history) == ("Tu consumo de octubre fue 18\u00a0% mayor que el de octubre del "
                                "año pasado: 26\u00a0m³ frente a 22\u00a0m³.")


def test_a_lower_consumption_says_menor():
    history = months((2025, 10), [40] + [30] * 11 + [30])
    assert summary(history).startswith("Tu consumo de octubre fue 25\u00a0% menor que el de "
                                       "octubre del año pasado")


def test_without_last_year_it_compares_with_the_previous_period():
    history = months((2026, 6), [20, 20, 20, 25])
    assert summary(history) == ("Tu consumo de septiembre fue 25\u00a0% mayor que el de agosto: "
                                "25\u00a0m³ frente a 20\u00a0m³.")


def test_across_new_year_the_previous_month_says_its_year():
    history = months((2025, 12), [20, 10])
    assert summary(history) == ("Tu consumo de enero de 2026 fue 50\u00a0% menor que el de "
                                "diciembre de 2025: 10\u00a0m³ frente a 20\u00a0m³.")


def test_equal_and_almost_equal():
    assert summary(months((2026, 8), [26, 26])) == (
        "Tu consumo de septiembre fue igual al de agosto: 26\u00a0m³.")
    assert summary(months((2026, 8), [400, 401])) == (
        "Tu consumo de septiembre fue casi igual al de agosto: 401\u00a0m³ frente a 400\u00a0m³.")


def test_zero_consumption():
    assert summary(months((2026, 8), [0, 0])) == (
        "Tu consumo de septiembre fue de 0\u00a0m³, igual que el de agosto.")
    assert summary(months((2026, 8), [0, 12])) == (
        "Tu consumo de septiembre fue de 12\u00a0m³; el de agosto fue de 0\u00a0m³.")
    assert summary(months((2026, 8), [12, 0])) == (
        "Tu consumo de septiembre fue 100\u00a0% menor que el de agosto: 0\u00a0m³ frente a "
        "12\u00a0m³.")


def test_a_single_period_and_none():
    assert summary(months((2026, 9), [14])) == (
        "Tu consumo de septiembre fue de 14\u00a0m³: es tu primer periodo facturado.")
    assert summary([]) == "Aún no hay consumos facturados para este contrato."


def test_an_estimated_latest_period_is_said():
    text = summary(months((2026, 8), [20, 25], estimated={1}))
    assert text.endswith(" La lectura de septiembre fue estimada: se ajusta cuando leamos tu "
                         "medidor.")


def test_year_ago_is_the_period_ending_closest_to_a_year_before():
    history = months((2025, 9), [1] * 14)
    latest = history[-1]
    found = year_ago(history[:-1], latest.period_end)
    assert found is not None and found.period_end == date(2025, 10, 25)
    assert year_ago(history[-5:-1], latest.period_end) is None


def test_the_scale_makes_room_for_its_widest_label():
    small, large = chart(months((2026, 1), [30])), chart(months((2026, 1), [12_480]))
    assert large.top == 15_000 and large.grid[-1][1] == "15,000"
    assert large.left > small.left
    assert large.left >= 8 + 7 * len("15,000")
    assert large.bars[0].x >= large.left
