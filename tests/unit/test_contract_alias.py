"""The rule for a contract's alias (ov.services.contracts.clean_alias)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ov.services.contracts import ALIAS_LENGTH, clean_alias
from ov.services.validation import FieldError


@pytest.mark.parametrize(("typed", "kept"), [
    ("Casa", "Casa"),
    ("  Local de la tienda  ", "Local de la tienda"),
    ("Depto. 4-B (mamá)", "Depto. 4-B (mamá)"),
    ("Bodega  #2", "Bodega #2"),
    ("Casa\u00a0Sur", "Casa Sur"),
    ("Mama\u0301", "Mamá"),
    ("Año 2026: Niño & Peña/Sur", "Año 2026: Niño & Peña/Sur"),
    ("x" * ALIAS_LENGTH, "x" * ALIAS_LENGTH),
])
def test_names_customers_give_are_kept_trimmed(typed, kept):
    assert clean_alias(typed) == kept


@pytest.mark.parametrize(("typed", "says"), [
    ("", "Escribe un nombre"),
    ("   ", "Escribe un nombre"),
    (None, "Escribe un nombre"),
    ("x" * (ALIAS_LENGTH + 1), "hasta 30 caracteres; el que escribiste tiene 31"),
    ("<b>Casa</b>", "Quita «<»"),
    ("Casa\u200b", "no se pueden escribir"),
    ("Casa\n2", "no se pueden escribir"),
    ("Casa ١", "Quita «١»"),
    ("Casa 🏠", "Quita «🏠»"),
])
def test_empty_long_or_odd_names_are_told_what_to_fix(typed, says):
    with pytest.raises(FieldError) as refused:
        clean_alias(typed)
    assert says in str(refused.value)


@given(st.text(max_size=60))
def test_anything_accepted_is_1_to_30_characters_without_edge_spaces(typed):
    try:
        kept = clean_alias(typed)
    except FieldError as error:
        assert str(error)
    else:
        assert 1 <= len(kept) <= ALIAS_LENGTH
        assert kept == kept.strip() and "  " not in kept
        assert all(ch.isalpha() or ch in "0123456789 .,;:-_'\"()/#&º" for ch in kept)
