"""Settings: defaults, then ``instance/config.py``, then ``OV_*`` environment variables.

Every setting a deployment may change is listed in ``ENV_SETTINGS`` with the type it is
read as, so the README, the code and the environment speak of the same names.
"""

from __future__ import annotations

import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ov.addresses import DEFAULT_PROXY_ADDRESSES, parse_proxy_addresses

PASSWORD_POLICIES = ("seed", "nist")  # the first is the default
#: An empty setting: not set (a named value, so no scanner takes it for a password).
UNSET = ""
CAPTCHA_PROVIDERS = ("builtin", "recaptcha", "hcaptcha", "turnstile")
MAIL_BACKENDS = ("file", "smtp", "locmem", "console")
LOG_FORMATS = ("", "json", "text")  # "": json in production, text otherwise
MIN_METRICS_TOKEN = 16


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to change."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on", "si", "sí"}


def _pesos(value: str) -> Decimal:
    """An amount in pesos with at most two decimals: ``52.20``."""
    try:
        amount = Decimal(value.strip())
    except InvalidOperation as exc:
        raise ValueError("escribe un importe en pesos, como 52.20") from exc
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("escribe un importe en pesos con hasta dos decimales, como 52.20")
    return amount


#: Calendar days the utility has to answer each kind of request or claim filed in Mis
#: solicitudes (ov.models.ServiceRequestCategory values); OV_REQUEST_ANSWER_DAYS changes some.
REQUEST_ANSWER_DAYS = {
    "bill_clarification": 10,
    "reading_review": 10,
    "meter_review": 15,
    "change_of_holder": 10,
    "end_of_service": 5,
    "accessible_bill": 10,
    "tax_data": 5,
    "other": 10,
}


def _answer_days(value: str) -> dict[str, int]:
    """``bill_clarification=7,meter_review=20``: those kinds change, the rest keep theirs."""
    days = dict(REQUEST_ANSWER_DAYS)
    for item in value.split(","):
        name, _, number = item.strip().partition("=")
        name, number = name.strip(), number.strip()
        if name not in REQUEST_ANSWER_DAYS:
            raise ValueError(f"«{name}» no es un tipo de solicitud; los tipos son: "
                             + ", ".join(REQUEST_ANSWER_DAYS))
        if not (number.isascii() and number.isdigit() and 1 <= int(number) <= 90):
            raise ValueError(f"los días de «{name}» van de 1 a 90, como {name}=10")
        days[name] = int(number)
    return days


CLABE_WEIGHTS = ((3, 7, 1) * 6)[:17]  # one per digit before the check digit


def clabe_is_valid(clabe: str) -> bool:
    """An 18-digit CLABE whose last digit is its check digit (weights 3, 7, 1, mod 10)."""
    if len(clabe) != 18 or not (clabe.isascii() and clabe.isdigit()):
        return False
    digits = zip(clabe[:17], CLABE_WEIGHTS, strict=True)
    total = sum(int(digit) * weight % 10 for digit, weight in digits)
    return (10 - total % 10) % 10 == int(clabe[17])


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
    "MAIL_TIMEOUT": ("MAIL_TIMEOUT", float),
    "EMAIL_CONFIRM_MAX_AGE": ("OV_EMAIL_CONFIRM_MAX_AGE", int),
    "CAPTCHA_PROVIDER": ("OV_CAPTCHA_PROVIDER", str),
    "CAPTCHA_SITE_KEY": ("OV_CAPTCHA_SITE_KEY", str),
    "CAPTCHA_SECRET": ("OV_CAPTCHA_SECRET", str),
    "CAPTCHA_VERIFY_URL": ("OV_CAPTCHA_VERIFY_URL", str),
    "CAPTCHA_HOSTNAME": ("OV_CAPTCHA_HOSTNAME", str),
    "CAPTCHA_TOKEN_MAX_AGE": ("OV_CAPTCHA_TOKEN_MAX_AGE", int),
    "CAPTCHA_CONNECT_TIMEOUT": ("OV_CAPTCHA_CONNECT_TIMEOUT", float),
    "CAPTCHA_READ_TIMEOUT": ("OV_CAPTCHA_READ_TIMEOUT", float),
    "PASSWORD_POLICY": ("OV_PASSWORD_POLICY", str),
    "SESSION_IDLE_MINUTES": ("OV_SESSION_IDLE_MINUTES", int),
    "SESSION_MAX_HOURS": ("OV_SESSION_MAX_HOURS", int),
    "LOGIN_MAX_FAILURES": ("OV_LOGIN_MAX_FAILURES", int),
    "LOGIN_LOCK_MINUTES": ("OV_LOGIN_LOCK_MINUTES", int),
    "LOGIN_LOCK_MAX_MINUTES": ("OV_LOGIN_LOCK_MAX_MINUTES", int),
    "LOGIN_DEVICE_DAYS": ("OV_LOGIN_DEVICE_DAYS", int),
    "LOGIN_DEVICE_MAX_FAILURES": ("OV_LOGIN_DEVICE_MAX_FAILURES", int),
    "RESET_MAX_AGE_MINUTES": ("OV_RESET_MAX_AGE_MINUTES", int),
    "PROOF_RECENT_INVOICES": ("OV_PROOF_RECENT_INVOICES", int),
    "UNDO_LINK_DAYS": ("OV_UNDO_LINK_DAYS", int),
    "REAUTH_MINUTES": ("OV_REAUTH_MINUTES", int),
    "EMAIL_CHANGE_LIMIT": ("OV_EMAIL_CHANGE_LIMIT", str),
    "PHOTO_FORM_LIMIT": ("OV_PHOTO_FORM_LIMIT", str),
    "ARCO_ANSWER_DAYS": ("OV_ARCO_ANSWER_DAYS", int),
    "ARCO_CARRY_OUT_DAYS": ("OV_ARCO_CARRY_OUT_DAYS", int),
    "CANCEL_BLOCK_DAYS": ("OV_CANCEL_BLOCK_DAYS", int),
    "UPLOAD_DIR": ("OV_UPLOAD_DIR", str),
    "PHOTO_MAX_MB": ("OV_PHOTO_MAX_MB", int),
    "REQUEST_ANSWER_DAYS": ("OV_REQUEST_ANSWER_DAYS", _answer_days),
    "MAX_CONTENT_LENGTH": ("MAX_CONTENT_LENGTH", int),
    "SQLITE_BUSY_TIMEOUT_MS": ("OV_SQLITE_BUSY_TIMEOUT_MS", int),
    "DATABASE_CONNECT_TIMEOUT": ("OV_DATABASE_CONNECT_TIMEOUT", int),
    "REDIS_TIMEOUT": ("OV_REDIS_TIMEOUT", float),
    "QUEUE_LIMIT_MS": ("OV_QUEUE_LIMIT_MS", int),
    "TRUSTED_PROXIES": ("OV_TRUSTED_PROXIES", int),
    "PROXY_ADDRESSES": ("OV_PROXY_ADDRESSES", str),
    "LOG_FORMAT": ("OV_LOG_FORMAT", str),
    "METRICS_TOKEN": ("OV_METRICS_TOKEN", str),
    "UTILITY_NAME": ("OV_UTILITY_NAME", str),
    "UTILITY_LEGAL_NAME": ("OV_UTILITY_LEGAL_NAME", str),
    "UTILITY_ADDRESS": ("OV_UTILITY_ADDRESS", str),
    "EMERGENCY_PHONE": ("OV_EMERGENCY_PHONE", str),
    "CUSTOMER_PHONE": ("OV_CUSTOMER_PHONE", str),
    "CUSTOMER_EMAIL": ("OV_CUSTOMER_EMAIL", str),
    "PRIVACY_EMAIL": ("OV_PRIVACY_EMAIL", str),
    "STORE_URL": ("OV_STORE_URL", str),
    "COUPON_VALID_DAYS": ("OV_COUPON_VALID_DAYS", int),
    "COUPON_LATE_FEE": ("OV_COUPON_LATE_FEE", _pesos),
    "SPEI_CLABE": ("OV_SPEI_CLABE", str),
    "SPEI_BENEFICIARY": ("OV_SPEI_BENEFICIARY", str),
    "SPEI_BANK": ("OV_SPEI_BANK", str),
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


LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 5000


def local_public_url(environ: os._Environ | dict) -> str:
    """Where ``make run`` serves, ``http://127.0.0.1:$PORT``: the default for mail links."""
    raw = environ.get("PORT", "").strip()
    if not raw:
        return f"http://{LOCAL_HOST}:{LOCAL_PORT}"
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 65536):
        raise ConfigError(f"PORT={raw!r} no es válido: escribe un puerto de 1 a 65535")
    return f"http://{LOCAL_HOST}:{int(raw)}"


def defaults(instance_path: str) -> dict:
    """The settings a fresh checkout runs with (development on one machine)."""
    instance = Path(instance_path)
    return {
        "OV_ENV": "development",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'ov.sqlite3'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "OV_SQLITE_BUSY_TIMEOUT_MS": 5000,
        # Seconds to wait for PostgreSQL to accept a connection, and for Redis to connect or
        # answer: a server that hangs gives a quick 503, not requests piling up behind it.
        "OV_DATABASE_CONNECT_TIMEOUT": 3,
        "OV_REDIS_TIMEOUT": 2.0,
        # Behind a proxy that stamps X-Request-Start: a request that waited longer than this
        # for a free thread is answered 503 at once (ov/overload.py; 0: never).
        "OV_QUEUE_LIMIT_MS": 1000,
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto (0: none),
        # and the addresses (or networks) they connect from; "unix" is a unix-socket peer.
        # The headers count only when the direct peer is one of them (ov/addresses.py).
        "OV_TRUSTED_PROXIES": 0,
        "OV_PROXY_ADDRESSES": DEFAULT_PROXY_ADDRESSES,
        "OV_REDIS_URL": "",
        # Log lines: "json" (one object a line) or "text"; "" is json in production, else text.
        "OV_LOG_FORMAT": "",
        # The bearer token Prometheus sends for /metrics; "" (the default): no /metrics at all.
        "OV_METRICS_TOKEN": UNSET,
        # Mail links: on a deployment its public https:// address; locally, where `make run`
        # serves (the PORT it is given).
        "OV_PUBLIC_URL": local_public_url(os.environ),
        "OV_MAIL_BACKEND": "file",
        "MAIL_FILE_PATH": str(instance / "mail"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_DEFAULT_SENDER": "Oficina Virtual <no-responder@oficinavirtual.example>",
        # Seconds to wait for the SMTP server: a view sending right after its commit must
        # not hang on a dead relay (the mail stays in the outbox for `flask mail-drain`).
        "MAIL_TIMEOUT": 10.0,
        # How long an email-confirmation link stays valid, in seconds.
        "OV_EMAIL_CONFIRM_MAX_AGE": 7 * 24 * 3600,
        "OV_CAPTCHA_PROVIDER": "builtin",
        "OV_CAPTCHA_SITE_KEY": "",
        "OV_CAPTCHA_SECRET": UNSET,
        "OV_CAPTCHA_VERIFY_URL": "",
        # The host the vendor must report the CAPTCHA as solved on ("": OV_PUBLIC_URL's).
        "OV_CAPTCHA_HOSTNAME": "",
        # How long the built-in form token stays valid: slow phones, people fetching the bill.
        "OV_CAPTCHA_TOKEN_MAX_AGE": 4 * 3600,
        # Seconds to wait for the vendor's siteverify: to connect, then for each read.
        "OV_CAPTCHA_CONNECT_TIMEOUT": 3.0,
        "OV_CAPTCHA_READ_TIMEOUT": 5.0,
        "OV_PASSWORD_POLICY": PASSWORD_POLICIES[0],
        # Registration: drafts live this long after the last step; attempts are limited.
        "OV_REGISTRATION_DRAFT_MINUTES": 30,
        # The proof of the bill: how many of a contract's newest invoices prove it.
        "OV_PROOF_RECENT_INVOICES": 2,
        "OV_REGISTRATION_IP_LIMIT": "20 per hour",
        "OV_REGISTRATION_ACCOUNT_LIMIT": "5 per hour",
        "OV_INLINE_VALIDATION_LIMIT": "120 per minute",
        # Step 2: new usernames whose availability one draft, and one client address, may ask.
        "OV_REGISTRATION_USERNAME_DRAFT_LIMIT": "10 per hour",
        "OV_REGISTRATION_USERNAME_IP_LIMIT": "40 per hour",
        "OV_REGISTRATION_USERNAME_ACCOUNT_LIMIT": "20 per hour",
        # New registration drafts one client address may start (a browser reuses its own).
        "OV_REGISTRATION_DRAFT_IP_LIMIT": "30 per hour",
        # The utility's online shop ("tiend@virtual"), recommended in Mi oficina when set.
        "OV_STORE_URL": "",
        # Signing in. Where a login lands when no safe `next` was asked for.
        "OV_HOME_AFTER_LOGIN": "/mi-oficina",
        # A signed-in session ends after this much inactivity, and in any case after this long.
        "OV_SESSION_IDLE_MINUTES": 20,
        "OV_SESSION_MAX_HOURS": 12,
        # With JavaScript, "Seguir conectado" is offered this long before the idle end.
        "OV_SESSION_WARNING_SECONDS": 120,
        # Wrong passwords in a row before the account is locked, and for how long; each
        # further run of failures doubles the lock, up to the maximum.
        "OV_LOGIN_MAX_FAILURES": 5,
        "OV_LOGIN_LOCK_MINUTES": 15,
        "OV_LOGIN_LOCK_MAX_MINUTES": 240,
        # Failed logins from unknown browsers, counted per client address and per typed
        # username (Flask-Limiter). A browser with a device cookie for the typed user is
        # exempt from both (and from the lock above): it has its own allowance instead.
        "OV_LOGIN_IP_LIMIT": "50 per 15 minutes",
        "OV_LOGIN_ACCOUNT_LIMIT": "10 per 15 minutes",
        # A browser where the customer signed in, or finished a reset by email, keeps a
        # signed device cookie this many days (renewed at each sign-in), and may fail this
        # often on its own, whatever unknown browsers do to the account.
        "OV_LOGIN_DEVICE_DAYS": 365,
        "OV_LOGIN_DEVICE_MAX_FAILURES": 5,
        # Recovery: how long a reset link lives, and how often it may be asked for.
        "OV_RESET_MAX_AGE_MINUTES": 60,
        "OV_RECOVERY_IP_LIMIT": "10 per hour",
        "OV_RECOVERY_EMAIL_LIMIT": "3 per hour",
        "OV_RECOVERY_BILL_IP_LIMIT": "20 per hour",
        "OV_RECOVERY_BILL_ACCOUNT_LIMIT": "5 per hour",
        "OV_CONFIRM_RESEND_LIMIT": "3 per hour",
        "OV_EMAIL_CHANGE_LIMIT": "10 per hour",
        # Forms that take a photo (a reading, a request): posts per user.
        "OV_PHOTO_FORM_LIMIT": "30 per hour",
        # How long the old address may undo a change of access (recovery by bill, new email).
        "OV_UNDO_LINK_DAYS": 7,
        # Changing the email or the password, or cancelling the user, asks for the password
        # again when the session signed in (or last gave it) longer ago than this.
        "OV_REAUTH_MINUTES": 10,
        # Privacy (ARCO) requests: the days the utility has to answer, and then to carry out
        # what it granted (both counted in calendar days from the request and the answer).
        "OV_ARCO_ANSWER_DAYS": 20,
        "OV_ARCO_CARRY_OUT_DAYS": 15,
        # A cancelled user is blocked for this long, then deleted by purge-cancelled.
        "OV_CANCEL_BLOCK_DAYS": 30,
        # Photos customers send (of the meter, with a claim): where the re-encoded files are
        # kept, and the largest upload accepted on the routes that take one (the rest of the
        # site keeps MAX_CONTENT_LENGTH).
        "OV_UPLOAD_DIR": str(instance / "uploads"),
        "OV_PHOTO_MAX_MB": 15,
        # Days to answer each kind of request or claim (see REQUEST_ANSWER_DAYS).
        "OV_REQUEST_ANSWER_DAYS": dict(REQUEST_ANSWER_DAYS),
        # The version of the Aviso legal a customer accepts when registering.
        "OV_LEGAL_VERSION": "1.0",
        # Cheap argon2 parameters, for the test suite only: never in a deployment.
        "OV_ARGON2_FAST": False,
        "OV_SITE_NAME": "Oficina Virtual",
        "OV_UTILITY_NAME": "Gas Natural del Noreste",
        "OV_UTILITY_LEGAL_NAME": "Gas Natural del Noreste, S.A. de C.V. (demostración)",
        "OV_UTILITY_ADDRESS": "Av. Constitución 400 Ote., Centro, 64000 Monterrey, N.L.",
        "OV_EMERGENCY_PHONE": "800 000 4273",
        "OV_CUSTOMER_PHONE": "800 000 2424",
        "OV_CUSTOMER_EMAIL": "atencion@oficinavirtual.example",
        "OV_PRIVACY_EMAIL": "datos.personales@oficinavirtual.example",
        # Payment coupons (ov/services/references.py): an overdue bill's coupon is payable
        # for this many days (stores refuse expired coupons), and adds this late fee in
        # pesos, IVA included (0: the billing system charges it on the next bill instead,
        # as the demo data's "Cargo por pago extemporáneo" line does).
        "OV_COUPON_VALID_DAYS": 3,
        "OV_COUPON_LATE_FEE": Decimal("0.00"),
        # Paying by transfer (SPEI): the utility's CLABE, its bank, and the beneficiary
        # ("": the utility's legal name). Demonstration values: a made-up CLABE with a
        # valid check digit. An empty CLABE takes the transfer off the payment channels.
        "OV_SPEI_CLABE": "012180001234567899",
        "OV_SPEI_BANK": "BBVA México (cuenta de demostración)",
        "OV_SPEI_BENEFICIARY": "",
        # A form is a few hundred bytes; 64 KiB leaves room and stops oversized bodies.
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "MAX_FORM_MEMORY_SIZE": 64 * 1024,
        "MAX_FORM_PARTS": 200,
        # Slow phones: a form may stay open a long time before it is sent.
        "WTF_CSRF_TIME_LIMIT": 4 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "ov",
        # Write the server-side session only when it changed (signed-in requests do change it).
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_KEY_PREFIX": "ov:session:",
        "RATELIMIT_STORAGE_URI": "memory://",
        # No X-RateLimit-* headers: they tell a prober how many tries are left, and put a
        # Retry-After on every answer; the 429 page sets its own Retry-After.
        "RATELIMIT_HEADERS_ENABLED": False,
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
        # Written whole under a temporary name, then linked: a second process starting at the
        # same moment either wins the link or reads the complete key of the first.
        scratch = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    return path.read_text().strip()


#: The shortest secret key production accepts (``secrets.token_urlsafe(48)`` gives 64).
MIN_SECRET_KEY = 32


def validate_production(config: dict, demo: dict) -> None:
    """What ``OV_ENV=production`` insists on beyond the utility's data and the public URL.

    ``TESTING`` (set only by the test suite) still allows its two switches: the locmem mail
    backend and the fast argon2 parameters.
    """
    testing = bool(config.get("TESTING"))
    key = config.get("SECRET_KEY") or ""
    if key and len(key) < MIN_SECRET_KEY:
        raise ConfigError(
            f"Con OV_ENV=production, OV_SECRET_KEY debe tener al menos {MIN_SECRET_KEY} "
            "caracteres: genera una con `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`."
        )
    if config.get("DEBUG"):
        raise ConfigError(
            "Con OV_ENV=production el modo de depuración no se permite: quita FLASK_DEBUG "
            "(y DEBUG de instance/config.py)."
        )
    if config.get("OV_ARGON2_FAST") and not testing:
        raise ConfigError(
            "Con OV_ENV=production, OV_ARGON2_FAST no se permite: es solo para las pruebas."
        )
    allowed_mail = ("smtp", "locmem") if testing else ("smtp",)
    if config["OV_MAIL_BACKEND"] not in allowed_mail:
        raise ConfigError(
            f"Con OV_ENV=production, OV_MAIL_BACKEND={config['OV_MAIL_BACKEND']!r} no envía "
            "los correos: usa smtp, con OV_MAIL_SERVER y OV_MAIL_PORT del servidor de correo."
        )
    if config["OV_MAIL_BACKEND"] == "smtp" and config.get("MAIL_USERNAME") and not (
        config.get("MAIL_USE_TLS") or config.get("MAIL_USE_SSL")
    ):
        raise ConfigError(
            "Con OV_ENV=production y OV_MAIL_USERNAME, pon OV_MAIL_USE_TLS=true: la contraseña "
            "del correo no debe viajar sin cifrar."
        )
    if config["MAIL_DEFAULT_SENDER"] == demo["MAIL_DEFAULT_SENDER"]:
        raise ConfigError(
            "Con OV_ENV=production fija OV_MAIL_DEFAULT_SENDER, el remitente real de los "
            "correos (por ejemplo: Oficina Virtual <no-responder@tu-dominio.mx>)."
        )
    verify_url = config["OV_CAPTCHA_VERIFY_URL"]
    if verify_url and not verify_url.startswith("https://"):
        raise ConfigError(
            "Con OV_ENV=production, OV_CAPTCHA_VERIFY_URL debe ser https://: la clave secreta "
            "del CAPTCHA viaja en cada verificación."
        )


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
    if config["OV_LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError(
            f"OV_LOG_FORMAT={config['OV_LOG_FORMAT']!r}: usa json (una línea JSON por "
            "registro) o text"
        )
    token = config["OV_METRICS_TOKEN"]
    if token and (len(token) < MIN_METRICS_TOKEN or not token.isascii() or not token.isprintable()
                  or " " in token):
        raise ConfigError(
            f"OV_METRICS_TOKEN debe tener al menos {MIN_METRICS_TOKEN} caracteres ASCII sin "
            "espacios: genera uno con `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'` (vacío: sin /metrics)"
        )
    if config["OV_ENV"] == "production":
        demo = defaults(instance_path)
        missing = [key for key in UTILITY_SETTINGS if config[key] == demo[key]]
        if missing:
            raise ConfigError(
                "Con OV_ENV=production fija los datos reales de la empresa: "
                + ", ".join(missing)
            )
        if config["OV_SPEI_CLABE"] and config["OV_SPEI_CLABE"] == demo["OV_SPEI_CLABE"]:
            raise ConfigError(
                "Con OV_ENV=production, OV_SPEI_CLABE no puede ser la CLABE de demostración: "
                "fija la CLABE real de la empresa, o déjala vacía para no ofrecer transferencia."
            )
        if not config["OV_PUBLIC_URL"].startswith("https://"):
            raise ConfigError(
                "Con OV_ENV=production, OV_PUBLIC_URL debe ser la dirección pública https:// "
                "del portal: los enlaces de los correos se construyen con ella."
            )
        validate_production(config, demo)
    if not 1 <= int(config["OV_COUPON_VALID_DAYS"]) <= 30:
        raise ConfigError(
            f"OV_COUPON_VALID_DAYS={config['OV_COUPON_VALID_DAYS']!r}: usa de 1 a 30 días"
        )
    if not 1 <= int(config["OV_PROOF_RECENT_INVOICES"]) <= 24:
        raise ConfigError(
            f"OV_PROOF_RECENT_INVOICES={config['OV_PROOF_RECENT_INVOICES']!r}: usa de 1 a 24 "
            "facturas (las más recientes del contrato)"
        )
    if not 1 <= int(config["OV_UNDO_LINK_DAYS"]) <= 30:
        raise ConfigError(f"OV_UNDO_LINK_DAYS={config['OV_UNDO_LINK_DAYS']!r}: usa de 1 a 30 días")
    for key, low, high in (
        ("OV_REAUTH_MINUTES", 1, 120),
        ("OV_ARCO_ANSWER_DAYS", 1, 60),
        ("OV_ARCO_CARRY_OUT_DAYS", 1, 60),
        ("OV_CANCEL_BLOCK_DAYS", 1, 365),
        ("OV_PHOTO_MAX_MB", 1, 50),
    ):
        if not low <= int(config[key]) <= high:
            unit = ("minutos" if key.endswith("MINUTES") else "MB" if key.endswith("_MB")
                    else "días")
            raise ConfigError(f"{key}={config[key]!r}: usa de {low} a {high} {unit}")
    if not 0 <= int(config["OV_QUEUE_LIMIT_MS"]) <= 60000:
        raise ConfigError(
            f"OV_QUEUE_LIMIT_MS={config['OV_QUEUE_LIMIT_MS']!r}: usa de 0 (sin límite) a 60000 "
            "milisegundos de espera en la cola"
        )
    if not 0 <= int(config["OV_TRUSTED_PROXIES"]) <= 5:
        raise ConfigError(
            f"OV_TRUSTED_PROXIES={config['OV_TRUSTED_PROXIES']!r}: usa de 0 a 5 proxies "
            "(0: nadie delante de la aplicación; 1: un nginx)"
        )
    try:
        parse_proxy_addresses(config["OV_PROXY_ADDRESSES"])
    except ValueError as exc:
        raise ConfigError(f"OV_PROXY_ADDRESSES={config['OV_PROXY_ADDRESSES']!r}: {exc}") from exc
    if not 1 <= int(config["OV_LOGIN_DEVICE_MAX_FAILURES"]) <= 50:
        raise ConfigError(
            f"OV_LOGIN_DEVICE_MAX_FAILURES={config['OV_LOGIN_DEVICE_MAX_FAILURES']!r}: usa de 1 a "
            "50 intentos fallidos por navegador"
        )
    if Decimal(str(config["OV_COUPON_LATE_FEE"])) < 0:
        raise ConfigError(
            f"OV_COUPON_LATE_FEE={config['OV_COUPON_LATE_FEE']}: el cargo no puede ser negativo"
        )
    clabe = config["OV_SPEI_CLABE"]
    if clabe and not clabe_is_valid(clabe):
        raise ConfigError(
            f"OV_SPEI_CLABE={clabe!r}: una CLABE tiene 18 dígitos y el último es su dígito "
            "verificador; revísala con el banco (vacía: sin pago por transferencia)"
        )
    if config["OV_CAPTCHA_PROVIDER"] != "builtin" and not (
        config["OV_CAPTCHA_SITE_KEY"] and config["OV_CAPTCHA_SECRET"]
    ):
        raise ConfigError(
            f"OV_CAPTCHA_PROVIDER={config['OV_CAPTCHA_PROVIDER']} necesita "
            "OV_CAPTCHA_SITE_KEY y OV_CAPTCHA_SECRET"
        )
