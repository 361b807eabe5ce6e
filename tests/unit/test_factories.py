"""The tests' own factories make data the schema accepts, however far the ids have grown."""

from __future__ import annotations

from tests.support.factories import invoice_number


def test_invoice_numbers_keep_ten_characters_and_stay_distinct_past_id_99():
    numbers = [invoice_number(account_id, index)
               for account_id in (1, 99, 100, 105, 4321) for index in range(30)]
    assert {len(number) for number in numbers} == {10}
    assert len(set(numbers)) == len(numbers)
    assert all(number.startswith("ZE") and number[2:].isdigit() for number in numbers)
