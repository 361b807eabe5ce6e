"""Settings: defaults, then ``instance/config.py``, then ``OV_*`` environment variables.

Every setting a deployment may change is listed in ``ENV_SETTINGS`` with the type it is
read as, so the README, the code and the environment speak of the same names.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PASSWORD_POLICIES = ("seed", "nist")
CAPTCHA_PROVIDERS = ("builtin", "recaptcha", "hcaptcha", "turnstile")
MAIL_BACKENDS = ("file", "smtp", "locmem", "console")


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to change."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on", "si", "sí"}


# OV_<NAME> environment variable -> (Flask config key, parser)
ENV_SETTINGS: dict[str, tuple[str, type | object]] = {
    "ENV": ("OV_ENV", str),
    "SECRET_KEY": ("SECRET_KEY", str),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "REDIS_URL": ("OV_REDIS_URL", str),
    "PUBLIC_URL": ("OV_PUBLIC_URL", str),
    "MAIL_BACKEND": ("OV_MAIL_BACKEND", str),
    "MAIL_SERVER": ("MAIL_SERVER", str),
    "MAIL_PORT": ("MAIL_PORT", int),
    "MAIL_USERNAME": ("MAIL_USERNAME", str),
    "MAIL_PASSWORD": ("MAIL_PASSWORD", str),
    "MAIL_USE_TLS": ("MAIL_USE_TLS", _bool),
    "MAIL_DEFAULT_SENDER": ("MAIL_DEFAULT_SENDER", str),
    "CAPTCHA_PROVIDER": ("OV_CAPTCHA_PROVIDER", str),
    "CAPTCHA_SITE_KEY": ("OV_CAPTCHA_SITE_KEY", str),
    "CAPTCHA_SECRET": ("OV_CAPTCHA_SECRET", str),
    "CAPTCHA_VERIFY_URL": ("OV_CAPTCHA_VERIFY_URL", str),
    "PASSWORD_POLICY": ("OV_PASSWORD_POLICY", str),
    "MAX_CONTENT_LENGTH": ("MAX_CONTENT_LENGTH", int),
    "SQLITE_BUSY_TIMEOUT_MS": ("OV_SQLITE_BUSY_TIMEOUT_MS", int),
    "TRUSTED_PROXIES": ("OV_TRUSTED_PROXIES", int),
    "UTILITY_NAME": ("OV_UTILITY_NAME", str),
    "UTILITY_LEGAL_NAME": ("OV_UTILITY_LEGAL_NAME", str),
    "UTILITY_ADDRESS": ("OV_UTILITY_ADDRESS", str),
    "EMERGENCY_PHONE": ("OV_EMERGENCY_PHONE", str),
    "CUSTOMER_PHONE": ("OV_CUSTOMER_PHONE", str),
    "CUSTOMER_EMAIL": ("OV_CUSTOMER_EMAIL", str),
    "PRIVACY_EMAIL": ("OV_PRIVACY_EMAIL", str),
}

# Who the utility is and how customers reach it. The defaults are demonstration values;
# a production deployment must set every one of them (validate() refuses to start).
UTILITY_SETTINGS = (
    "OV_UTILITY_LEGAL_NAME",
    "OV_UTILITY_ADDRESS",
    "OV_EMERGENCY_PHONE",
    "OV_CUSTOMER_PHONE",
    "OV_CUSTOMER_EMAIL",
    "OV_PRIVACY_EMAIL",
)


def defaults(instance_path: str) -> dict:
    """The settings a fresh checkout runs with (development on one machine)."""
    instance = Path(instance_path)
    return {
        "OV_ENV": "development",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'ov.sqlite3'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "OV_SQLITE_BUSY_TIMEOUT_MS": 5000,
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto (0: none).
        "OV_TRUSTED_PROXIES": 0,
        "OV_REDIS_URL": "",
        "OV_PUBLIC_URL": "http://127.0.0.1:5000",
        "OV_MAIL_BACKEND": "file",
        "MAIL_FILE_PATH": str(instance / "mail"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_DEFAULT_SENDER": "Oficina Virtual <no-responder@oficinavirtual.example>",
        "OV_CAPTCHA_PROVIDER": "builtin",
        "OV_CAPTCHA_SITE_KEY": "",
        "OV_CAPTCHA_SECRET": "",
        "OV_CAPTCHA_VERIFY_URL": "",
        "OV_PASSWORD_POLICY": "seed",
        "OV_SITE_NAME": "Oficina Virtual",
        "OV_UTILITY_NAME": "Gas Natural del Noreste",
        "OV_UTILITY_LEGAL_NAME": "Gas Natural del Noreste, S.A. de C.V. (demostración)",
        "OV_UTILITY_ADDRESS": "Av. Constitución 400 Ote., Centro, 64000 Monterrey, N.L.",
        "OV_EMERGENCY_PHONE": "800 000 4273",
        "OV_CUSTOMER_PHONE": "800 000 2424",
        "OV_CUSTOMER_EMAIL": "atencion@oficinavirtual.example",
        "OV_PRIVACY_EMAIL": "datos.personales@oficinavirtual.example",
        # A form is a few hundred bytes; 64 KiB leaves room and stops oversized bodies.
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "MAX_FORM_MEMORY_SIZE": 64 * 1024,
        "MAX_FORM_PARTS": 200,
        # Slow phones: a form may stay open a long time before it is sent.
        "WTF_CSRF_TIME_LIMIT": 4 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_BR_LEVEL": 5,
        "COMPRESS_LEVEL": 6,
        "COMPRESS_MIN_SIZE": 500,
        # Static files are served precompressed (see ov/static_files.py), never streamed
        # through Flask-Compress, which leaks the file handle.
        "COMPRESS_STREAMS": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "SEND_FILE_MAX_AGE_DEFAULT": 0,
    }


def from_environment(environ: os._Environ | dict) -> dict:
    """Read every ``OV_*`` variable that is set into Flask config keys."""
    settings: dict = {}
    for name, (key, parse) in ENV_SETTINGS.items():
        raw = environ.get(f"OV_{name}")
        if raw is None or raw == "":
            continue
        try:
            settings[key] = parse(raw)  # type: ignore[operator]
        except ValueError as exc:
            raise ConfigError(f"OV_{name}={raw!r} no es válido: {exc}") from exc
    return settings


def secret_key_for(config: dict, instance_path: str) -> str:
    """The secret key: from the settings, or generated once into instance/ for local use."""
    if config.get("SECRET_KEY"):
        return config["SECRET_KEY"]
    if config["OV_ENV"] == "production":
        raise ConfigError(
            "OV_SECRET_KEY es obligatoria con OV_ENV=production: genera una con "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'` y pásala en el "
            "entorno. The app refuses to start without it."
        )
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def validate(config: dict, instance_path: str) -> None:
    """Refuse settings that cannot work, with a message that says what to change."""
    checks = [
        ("OV_ENV", ("development", "production", "testing")),
        ("OV_CAPTCHA_PROVIDER", CAPTCHA_PROVIDERS),
        ("OV_PASSWORD_POLICY", PASSWORD_POLICIES),
        ("OV_MAIL_BACKEND", MAIL_BACKENDS),
    ]
    for key, allowed in checks:
        if config[key] not in allowed:
            raise ConfigError(f"{key}={config[key]!r}: usa uno de {', '.join(allowed)}")
    if config["OV_ENV"] == "production":
        demo = defaults(instance_path)
        missing = [key for key in UTILITY_SETTINGS if config[key] == demo[key]]
        if missing:
            raise ConfigError(
                "Con OV_ENV=production fija los datos reales de la empresa: "
                + ", ".join(missing)
            )
    if config["OV_CAPTCHA_PROVIDER"] != "builtin" and not (
        config["OV_CAPTCHA_SITE_KEY"] and config["OV_CAPTCHA_SECRET"]
    ):
        raise ConfigError(
            f"OV_CAPTCHA_PROVIDER={config['OV_CAPTCHA_PROVIDER']} necesita "
            "OV_CAPTCHA_SITE_KEY y OV_CAPTCHA_SECRET"
        )
