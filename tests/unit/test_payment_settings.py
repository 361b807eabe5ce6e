"""The SPEI transfer data: settings whose CLABE is checked at start-up, as banks check it."""

from __future__ import annotations

import os

import pytest

from ov import create_app
from ov.config import ConfigError, clabe_is_valid, defaults


def make(tmp_path, monkeypatch, **env):
    for name in [n for n in os.environ if n.startswith("OV_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app({"INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize("clabe", ["032180000118359719", "002180000000000009"])
def test_a_clabe_with_its_right_check_digit_is_valid(clabe):
    assert clabe_is_valid(clabe)


@pytest.mark.parametrize("clabe", ["032180000118359710", "03218000011835971", "0321800001183597190",
                                   "03218000011835971a", "032 180 00011835971 9", "١" * 18])
def test_a_wrong_digit_length_or_sign_is_not(clabe):
    assert not clabe_is_valid(clabe)


def test_every_single_wrong_digit_is_caught():
    clabe = "032180000118359719"
    for position in range(18):
        for digit in "0123456789":
            if digit != clabe[position]:
                typo = clabe[:position] + digit + clabe[position + 1:]
                assert not clabe_is_valid(typo), typo


def test_the_demonstration_clabe_is_valid_and_says_it_is_an_example(tmp_path):
    settings = defaults(str(tmp_path))
    assert clabe_is_valid(settings["OV_SPEI_CLABE"])
    assert "demostración" in settings["OV_SPEI_BANK"]


def test_a_clabe_from_the_environment_is_used(tmp_path, monkeypatch):
    app = make(tmp_path, monkeypatch, OV_SPEI_CLABE="002180000000000009",
               OV_SPEI_BENEFICIARY="Gasera, S.A. de C.V.", OV_SPEI_BANK="Banamex")
    assert app.config["OV_SPEI_CLABE"] == "002180000000000009"
    assert app.config["OV_SPEI_BENEFICIARY"] == "Gasera, S.A. de C.V."
    assert app.config["OV_SPEI_BANK"] == "Banamex"


@pytest.mark.parametrize("clabe", ["002180000000000008", "00218000000000000", "clabe"])
def test_a_bad_clabe_stops_the_start(tmp_path, monkeypatch, clabe):
    with pytest.raises(ConfigError, match="OV_SPEI_CLABE"):
        make(tmp_path, monkeypatch, OV_SPEI_CLABE=clabe)

