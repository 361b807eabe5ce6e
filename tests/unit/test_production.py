"""OV_ENV=production: what it turns on, what it refuses, the deployment's environment file
example (deploy/oficina-virtual.env), and gunicorn's settings (ov/gunicorn_config.py)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from ov import create_app, gunicorn_config
from ov.config import ENV_SETTINGS, ConfigError
from tests.support import app_servers as servers
from tests.support.journeys import hidden

ENV_EXAMPLE = servers.ROOT / "deploy" / "oficina-virtual.env"
#: Read by ov/gunicorn_config.py, or by the process manager, not by the app's settings.
SERVING = {"OV_BIND", "OV_WORKERS", "OV_THREADS", "OV_INSTANCE_PATH"}


def example_settings() -> dict[str, str]:
    """The variables the example sets (``NAME=value`` lines), comments left out."""
    found = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def filled(instance) -> dict[str, str]:
    """The example with what an operator fills in: a secret key, where the database is."""
    env = example_settings()
    env.update(OV_SECRET_KEY="s" * 64, OV_INSTANCE_PATH=str(instance),
               OV_DATABASE_URL=f"sqlite:///{instance / 'ov.sqlite3'}", OV_REDIS_URL="",
               OV_UPLOAD_DIR=str(instance / "uploads"))
    return env


def build(tmp_path, monkeypatch, env: dict[str, str], **overrides):
    for name in [n for n in os.environ if n.startswith(("OV_", "FLASK_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app({"INSTANCE_PATH": str(tmp_path), **overrides})


# --- the environment file example -----------------------------------------------------------

def test_the_example_names_every_setting_and_only_real_ones():
    text = ENV_EXAMPLE.read_text()
    named = set(re.findall(r"^#?\s*(OV_[A-Z0-9_]+)=", text, flags=re.MULTILINE))
    known = {f"OV_{name}" for name in ENV_SETTINGS} | SERVING
    assert known - named == set(), "settings the example does not mention"
    assert named - known == set(), "names in the example that nothing reads"


def test_the_example_holds_no_secret():
    env = example_settings()
    for name in ("OV_SECRET_KEY", "OV_CAPTCHA_SECRET", "OV_MAIL_PASSWORD"):
        assert env.get(name, "") == "", f"{name} must be left for the operator to fill"


def test_the_example_once_filled_in_starts_in_production(tmp_path, monkeypatch):
    app = build(tmp_path, monkeypatch, filled(tmp_path))
    assert app.config["OV_ENV"] == "production"
    assert app.config["OV_TRUSTED_PROXIES"] == 1
    assert app.config["OV_MAIL_BACKEND"] == "smtp"


def test_the_example_without_its_secret_key_is_refused(tmp_path, monkeypatch):
    env = filled(tmp_path) | {"OV_SECRET_KEY": ""}
    with pytest.raises(ConfigError, match="OV_SECRET_KEY"):
        build(tmp_path, monkeypatch, env)


# --- what production refuses ----------------------------------------------------------------

@pytest.mark.parametrize(("change", "message"), [
    ({"OV_SECRET_KEY": "corta"}, "al menos 32"),
    ({"FLASK_DEBUG": "1"}, "depuración"),
    ({"OV_MAIL_BACKEND": "file"}, "OV_MAIL_BACKEND='file'"),
    ({"OV_MAIL_BACKEND": "console"}, "OV_MAIL_BACKEND='console'"),
    ({"OV_MAIL_USERNAME": "portal", "OV_MAIL_USE_TLS": "false"}, "OV_MAIL_USE_TLS"),
    ({"OV_MAIL_DEFAULT_SENDER": ""}, "OV_MAIL_DEFAULT_SENDER"),
    ({"OV_CAPTCHA_PROVIDER": "turnstile", "OV_CAPTCHA_SITE_KEY": "0x4AAA"}, "OV_CAPTCHA_SECRET"),
    ({"OV_CAPTCHA_PROVIDER": "hcaptcha", "OV_CAPTCHA_SITE_KEY": "k", "OV_CAPTCHA_SECRET": "s",
      "OV_CAPTCHA_VERIFY_URL": "http://captcha.example/siteverify"}, "https://"),
    ({"OV_PUBLIC_URL": "http://oficinavirtual.example"}, "OV_PUBLIC_URL"),
    ({"OV_PROXY_ADDRESSES": "127.0.0.1, nginx.local"}, "nginx.local"),
    ({"OV_TRUSTED_PROXIES": "9"}, "OV_TRUSTED_PROXIES"),
])
def test_production_refuses_what_would_not_be_safe(tmp_path, monkeypatch, change, message):
    env = filled(tmp_path) | change
    with pytest.raises(ConfigError, match=re.escape(message)):
        build(tmp_path, monkeypatch, env)


def test_production_refuses_the_fast_password_hashes_of_the_tests(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="OV_ARGON2_FAST"):
        build(tmp_path, monkeypatch, filled(tmp_path), OV_ARGON2_FAST=True)


def test_the_mail_password_may_go_over_tls(tmp_path, monkeypatch):
    env = filled(tmp_path) | {"OV_MAIL_USERNAME": "portal", "OV_MAIL_USE_TLS": "true"}
    assert build(tmp_path, monkeypatch, env).config["MAIL_USE_TLS"] is True


# --- what production turns on ---------------------------------------------------------------

@pytest.fixture
def production(tmp_path, monkeypatch):
    env = filled(tmp_path)
    servers.migrate(servers.clean_environment(**env))
    return build(tmp_path, monkeypatch, env, OV_ARGON2_FAST=True, TESTING=True)


def test_every_answer_carries_hsts_static_files_and_errors_too(production):
    client = production.test_client()
    for path, status in (("/", 200), ("/entrar", 200), ("/no-existe", 404),
                         ("/static/css/ov.css", 200), ("/mi-oficina", 302)):
        response = client.get(path, base_url="https://oficinavirtual.example")
        assert response.status_code == status, path
        assert response.headers["Strict-Transport-Security"] \
            == "max-age=31536000; includeSubDomains", path


def test_a_sign_in_sets_only_host_prefixed_secure_cookies(production):
    from ov.extensions import db
    from ov.services import passwords
    from tests.support.factories import make_customer
    from tests.support.journeys import PASSWORD

    with production.app_context():
        make_customer(password_hash=passwords.hash_password(PASSWORD))
        db.session.commit()
    client = production.test_client()
    base = "https://oficinavirtual.example"
    token = hidden(client.get("/entrar", base_url=base).get_data(as_text=True), "csrf_token")
    response = client.post("/entrar", base_url=base, data={
        "csrf_token": token, "usuario": "usuPDFactura1", "contrasena": PASSWORD},
        headers={"Referer": base + "/entrar"})
    assert response.status_code == 303
    cookies = response.headers.getlist("Set-Cookie")
    # The session, the device cookie, and the look's CSRF cookie cleared (the session
    # holds the token now).
    assert {cookie.split("=", 1)[0] for cookie in cookies} == {
        "__Host-ov", "__Host-ov_device", "__Host-ov_csrf"}
    for cookie in cookies:
        assert "; Secure" in cookie and "; HttpOnly" in cookie and "; Path=/" in cookie
        assert "Domain=" not in cookie and "SameSite=Lax" in cookie
    assert client.get("/mi-oficina", base_url=base).status_code == 200


# --- gunicorn's settings --------------------------------------------------------------------

def test_gunicorn_listens_locally_with_one_process_per_core_by_default():
    found = gunicorn_config.settings_from({})
    assert found["bind"] == ["127.0.0.1:8000"]
    assert found["workers"] == len(os.sched_getaffinity(0))
    assert found["threads"] == 4


def test_gunicorn_settings_are_read_from_the_environment():
    found = gunicorn_config.settings_from({"OV_BIND": "unix:/run/ov/app.sock, 127.0.0.1:8001",
                                           "OV_WORKERS": "3", "OV_THREADS": "8"})
    assert found == {"bind": ["unix:/run/ov/app.sock", "127.0.0.1:8001"], "workers": 3,
                     "threads": 8}


@pytest.mark.parametrize(("name", "value"), [
    ("OV_WORKERS", "0"), ("OV_WORKERS", "dos"), ("OV_WORKERS", "65"), ("OV_THREADS", "-1"),
    ("OV_THREADS", "٣"), ("OV_BIND", "8000"), ("OV_BIND", "127.0.0.1:puerto"),
    ("OV_BIND", "unix:"),
])
def test_bad_gunicorn_settings_are_refused_by_name(name, value):
    with pytest.raises(ConfigError, match=f"{name}={value!r}"):
        gunicorn_config.settings_from({name: value})


def gunicorn_command(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(servers.BIN / "gunicorn"), "-c", "python:ov.gunicorn_config", *args,
         "ov:create_app()"],
        env=servers.clean_environment(**env), cwd=servers.ROOT, capture_output=True,
        text=True, timeout=120,
    )


def test_the_installed_gunicorn_reads_the_config_module():
    done = gunicorn_command("--print-config", OV_WORKERS="3", OV_THREADS="5")
    assert done.returncode == 0, done.stderr
    settings = dict(re.findall(r"^(\w+)\s+= (.*)$", done.stdout, flags=re.MULTILINE))
    assert settings["worker_class"] == "gthread"
    assert (settings["workers"], settings["threads"]) == ("3", "5")
    assert settings["bind"] == "['127.0.0.1:8000']"
    assert settings["preload_app"] == "False"
    assert settings["secure_scheme_headers"] == "{}"
    assert settings["forwarder_headers"] == "[]"
    assert (settings["timeout"], settings["graceful_timeout"]) == ("30", "30")


def test_gunicorn_refuses_a_bad_setting_with_one_clear_line():
    done = gunicorn_command(OV_WORKERS="muchos")
    assert done.returncode == 1
    assert "OV_WORKERS='muchos' no es válido" in done.stderr
    assert "Traceback" not in done.stderr


# --- the systemd units ----------------------------------------------------------------------

def test_every_unit_runs_a_real_command_with_the_environment_file():
    import click

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(servers.ROOT / "instance")})
    units = sorted((servers.ROOT / "deploy" / "systemd").glob("*.service"))
    assert len(units) >= 6
    for unit in units:
        text = unit.read_text()
        assert "EnvironmentFile=/etc/oficina-virtual/oficina-virtual.env" in text, unit.name
        (command,) = re.findall(r"^ExecStart=(.*)$", text, flags=re.MULTILINE)
        if "gunicorn" in command:
            assert command.endswith("gunicorn -c python:ov.gunicorn_config ov:create_app()")
            continue
        words = command.split("flask --app ov ", 1)[1].split()
        group, found = app.cli, None
        context = click.Context(app.cli)
        for word in words:
            found = group.get_command(context, word) if isinstance(group, click.Group) else None
            if found is None or not isinstance(found, click.Group):
                break
            group = found
        assert found is not None, f"{unit.name}: no command {' '.join(words)}"
    timers = {t.stem for t in (servers.ROOT / "deploy" / "systemd").glob("*.timer")}
    assert timers <= {u.stem for u in units}
    assert {"oficina-virtual-mail-drain", "oficina-virtual-purge-expired",
            "oficina-virtual-purge-cancelled"} <= timers
