"""Settings: defaults, instance/config.py, OV_* variables, and refusal of unsafe ones."""

from __future__ import annotations

import os
import stat

import pytest

from ov import create_app
from ov.config import UTILITY_SETTINGS, ConfigError, from_environment

PRODUCTION_UTILITY = {key: f"valor real de {key}" for key in UTILITY_SETTINGS} | {
    "OV_PUBLIC_URL": "https://oficinavirtual.example",
    "OV_SPEI_CLABE": "002180700000000008",  # the demonstration CLABE is refused there
    "OV_MAIL_BACKEND": "smtp", "OV_MAIL_DEFAULT_SENDER": "Portal <no-responder@gas.example.mx>",
}


def make(tmp_path, monkeypatch, env: dict[str, str] | None = None, **overrides):
    for name in [n for n in os.environ if n.startswith("OV_")]:
        monkeypatch.delenv(name)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    return create_app({"INSTANCE_PATH": str(tmp_path), **overrides})


def test_defaults_use_sqlite_in_instance_with_wal_and_busy_timeout(tmp_path, monkeypatch):
    app = make(tmp_path, monkeypatch)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'ov.sqlite3'}"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["timeout"] == 5.0
    from ov.extensions import db

    with app.app_context():
        with db.engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
        db.engine.dispose()
    assert mode == "wal" and keys == 1


def test_secret_key_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    first = make(tmp_path, monkeypatch).config["SECRET_KEY"]
    second = make(tmp_path, monkeypatch).config["SECRET_KEY"]
    assert first == second and len(first) >= 48
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_production_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch):
    env = {"OV_ENV": "production", **{f"OV_{k[3:]}": v for k, v in PRODUCTION_UTILITY.items()}}
    with pytest.raises(ConfigError, match="OV_SECRET_KEY"):
        make(tmp_path, monkeypatch, env)
    assert not (tmp_path / "secret_key").exists()


def test_production_requires_the_utilitys_real_contact_data(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="OV_EMERGENCY_PHONE"):
        make(tmp_path, monkeypatch, {"OV_ENV": "production", "OV_SECRET_KEY": "k" * 48})


@pytest.mark.parametrize("clabe, refused", [
    (None, True),  # the demonstration CLABE left as it is
    ("", False),  # no transfer offered (instance/config.py: an empty variable is unset)
    ("002180700000000008", False),  # a real-looking one with a valid check digit
])
def test_production_never_shows_the_demonstration_clabe(tmp_path, monkeypatch, clabe, refused):
    env = {"OV_ENV": "production", "OV_SECRET_KEY": "k" * 48,
           **{f"OV_{k[3:]}": v for k, v in PRODUCTION_UTILITY.items()}}
    del env["OV_SPEI_CLABE"]
    overrides = {} if clabe is None else {"OV_SPEI_CLABE": clabe}
    if refused:
        with pytest.raises(ConfigError, match="OV_SPEI_CLABE"):
            make(tmp_path, monkeypatch, env, **overrides)
    else:
        assert make(tmp_path, monkeypatch, env, **overrides).config["OV_SPEI_CLABE"] == clabe


def test_production_requires_an_https_public_url(tmp_path, monkeypatch):
    env = {
        "OV_ENV": "production",
        "OV_SECRET_KEY": "k" * 48,
        **{f"OV_{k[3:]}": v for k, v in PRODUCTION_UTILITY.items()},
        "OV_PUBLIC_URL": "http://127.0.0.1:5000",
    }
    with pytest.raises(ConfigError, match="OV_PUBLIC_URL"):
        make(tmp_path, monkeypatch, env)


def test_mail_links_follow_the_port_make_run_serves_on(tmp_path, monkeypatch):
    monkeypatch.setenv("PORT", "5077")
    assert make(tmp_path, monkeypatch).config["OV_PUBLIC_URL"] == "http://127.0.0.1:5077"
    monkeypatch.delenv("PORT")
    assert make(tmp_path, monkeypatch).config["OV_PUBLIC_URL"] == "http://127.0.0.1:5000"
    monkeypatch.setenv("PORT", "5077")  # a public address set on purpose wins
    chosen = make(tmp_path, monkeypatch, {"OV_PUBLIC_URL": "https://oficina.example"})
    assert chosen.config["OV_PUBLIC_URL"] == "https://oficina.example"
    for wrong in ("cinco", "0", "70000"):
        monkeypatch.setenv("PORT", wrong)
        with pytest.raises(ConfigError, match=f"PORT={wrong!r}"):
            make(tmp_path, monkeypatch)


def test_production_hardens_cookies_and_sends_hsts(tmp_path, monkeypatch):
    env = {
        "OV_ENV": "production",
        "OV_SECRET_KEY": "k" * 48,
        **{f"OV_{k[3:]}": v for k, v in PRODUCTION_UTILITY.items()},
    }
    app = make(tmp_path, monkeypatch, env)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    headers = app.test_client().get("/healthz").headers
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_environment_variables_override_instance_config(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text(
        "OV_PASSWORD_POLICY = 'nist'\nOV_MAIL_BACKEND = 'console'\n"
    )
    app = make(tmp_path, monkeypatch, {"OV_MAIL_BACKEND": "smtp", "OV_MAIL_PORT": "2525",
                                        "OV_REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert app.config["OV_PASSWORD_POLICY"] == "nist"  # from instance/config.py
    assert app.config["OV_MAIL_BACKEND"] == "smtp"  # the environment wins
    assert app.config["MAIL_PORT"] == 2525
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OV_CAPTCHA_PROVIDER", "puzzle", "OV_CAPTCHA_PROVIDER"),
        ("OV_PASSWORD_POLICY", "weak", "OV_PASSWORD_POLICY"),
        ("OV_MAIL_BACKEND", "pigeon", "OV_MAIL_BACKEND"),
        ("OV_CAPTCHA_PROVIDER", "recaptcha", "OV_CAPTCHA_SITE_KEY"),
        ("OV_MAIL_PORT", "veinticinco", "OV_MAIL_PORT"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(tmp_path, monkeypatch, name, value, message):
    with pytest.raises(ConfigError, match=message):
        make(tmp_path, monkeypatch, {name: value})


def test_empty_variables_are_ignored():
    assert from_environment({"OV_DATABASE_URL": "", "OV_MAIL_PORT": "25"}) == {"MAIL_PORT": 25}


def test_client_address_comes_from_trusted_proxies_only(tmp_path, monkeypatch):
    direct = make(tmp_path, monkeypatch)
    proxied = make(tmp_path, monkeypatch, {"OV_TRUSTED_PROXIES": "1"})
    for app, expected in ((direct, "127.0.0.1"), (proxied, "203.0.113.9")):

        @app.get("/_ip")
        def ip():
            from flask import request

            return request.remote_addr or ""

        seen = app.test_client().get("/_ip", headers={"X-Forwarded-For": "203.0.113.9"})
        assert seen.get_data(as_text=True) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [("OV_PROOF_RECENT_INVOICES", "0"), ("OV_PROOF_RECENT_INVOICES", "25"),
     ("OV_UNDO_LINK_DAYS", "0"), ("OV_UNDO_LINK_DAYS", "31"),
     ("OV_LOGIN_DEVICE_MAX_FAILURES", "0"), ("OV_LOGIN_DEVICE_MAX_FAILURES", "51")],
)
def test_the_bill_proof_undo_and_device_settings_stay_in_their_range(tmp_path, monkeypatch,
                                                                     name, value):
    with pytest.raises(ConfigError, match=name):
        make(tmp_path, monkeypatch, {name: value})


def test_the_bill_proof_and_undo_settings_are_read_from_the_environment(tmp_path, monkeypatch):
    app = make(tmp_path, monkeypatch, {"OV_PROOF_RECENT_INVOICES": "3",
                                       "OV_UNDO_LINK_DAYS": "10"})
    assert (app.config["OV_PROOF_RECENT_INVOICES"], app.config["OV_UNDO_LINK_DAYS"]) == (3, 10)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("OV_PHOTO_MAX_MB", "0", "OV_PHOTO_MAX_MB"), ("OV_PHOTO_MAX_MB", "51", "de 1 a 50 MB"),
     ("OV_REQUEST_ANSWER_DAYS", "fuga=1", "no es un tipo de solicitud"),
     ("OV_REQUEST_ANSWER_DAYS", "meter_review=0", "van de 1 a 90"),
     ("OV_REQUEST_ANSWER_DAYS", "meter_review=muchos", "van de 1 a 90")],
)
def test_the_photo_and_answer_day_settings_are_refused_out_of_range(tmp_path, monkeypatch, name,
                                                                    value, message):
    with pytest.raises(ConfigError, match=message):
        make(tmp_path, monkeypatch, {name: value})


def test_answer_days_change_only_the_kinds_named(tmp_path, monkeypatch):
    default = make(tmp_path, monkeypatch).config["OV_REQUEST_ANSWER_DAYS"]
    changed = make(tmp_path, monkeypatch, {
        "OV_REQUEST_ANSWER_DAYS": "bill_clarification=7, meter_review=20",
        "OV_UPLOAD_DIR": str(tmp_path / "fotos"), "OV_PHOTO_MAX_MB": "8",
    }).config
    assert changed["OV_REQUEST_ANSWER_DAYS"] == default | {"bill_clarification": 7,
                                                          "meter_review": 20}
    assert default["bill_clarification"] == 10
    assert changed["OV_UPLOAD_DIR"] == str(tmp_path / "fotos")
    assert changed["OV_PHOTO_MAX_MB"] == 8
    assert make(tmp_path, monkeypatch).config["OV_UPLOAD_DIR"] == str(tmp_path / "uploads")
