"""Password rules and hashing.

``check()`` applies the policy chosen by ``OV_PASSWORD_POLICY``:

* ``seed`` (default): the operating guide's rule, 8 to 12 ASCII letters and digits.
* ``nist``: NIST SP 800-63B style, 15 to 64 printable characters (spaces allowed), compared
  after Unicode NFKC normalisation.

Both policies also refuse

* common passwords. The rule, with zxcvbn (its input capped at 64 characters, zxcvbn is slow on
  long inputs): a password is common when zxcvbn scores it below 2 (fewer than 10^6 guesses),
  or when matches from zxcvbn's ``passwords`` frequency list cover at least half of its
  characters ("password1", "gatito2024");
* passwords built from the context: the username, the email's local part (and its pieces of 4
  or more characters), or the names of the portal and the utility. These words are also given
  to zxcvbn as ``user_inputs``, so disguised variants (l33t, reversed) lower the score.

Hashes are argon2id (argon2-cffi) with the parameters OWASP's Password Storage Cheat Sheet
recommends first: m=19456 (19 MiB), t=2, p=1 (``STRONG``). The sheet lists four other
settings it deems equally strong, trading memory for passes (46 MiB/t=1 down to 7 MiB/t=5);
on the development machine the 7 MiB/t=5 one spent about a fifth less CPU per check, but
changing would rehash every existing password at its next sign-in, and the session and
device-cookie stamps (``ov.services.auth``) are keyed to the hash, so every customer's other
sessions would end once. We keep 19 MiB/t=2/p=1 (about 36-55 ms of CPU per check there,
see docs/budgets.md). A hash made with any other parameters is replaced at the next
successful sign-in (``needs_rehash``, used by ``ov.services.auth.authenticate``).
``OV_ARGON2_FAST`` switches to the cheapest parameters for the test suite only. Passwords are
NFKC normalised before hashing, so a phrase typed on another keyboard still verifies.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from contextlib import suppress
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context
from zxcvbn import zxcvbn

SEED = "seed"
NIST = "nist"

SEED_PATTERN = re.compile(r"[A-Za-z0-9]{8,12}")  # used with fullmatch: no "\n", ASCII only
NIST_MIN, NIST_MAX = 15, 64
ZXCVBN_MAX_INPUT = 64
MIN_SCORE = 2
COMMON_SHARE = 0.5
MIN_CONTEXT_WORD = 4
# Names a customer might reuse: the portal's, the brand's, the service's.
PORTAL_WORDS = ("oficina", "virtual", "naturgy", "gas natural")

SEED_FORMAT = (
    "La contraseña debe tener entre 8 y 12 caracteres, solo letras y números, sin guiones ni "
    "caracteres especiales. No uses espacios, acentos ni la letra ñ."
)
NIST_TOO_SHORT = (
    "La contraseña debe tener al menos 15 caracteres. Te sugerimos una frase de tres o cuatro "
    "palabras que recuerdes fácilmente; puedes usar espacios."
)
NIST_TOO_LONG = (
    "La contraseña puede tener como máximo 64 caracteres. Escribe una frase más corta."
)
NIST_UNPRINTABLE = (
    "La contraseña tiene caracteres que no se pueden escribir, como tabuladores o saltos de "
    "línea. Escríbela de nuevo usando solo letras, números, espacios y signos."
)
COMMON = {
    SEED: (
        "Esa contraseña es muy común o fácil de adivinar. Elige otra que no sea una palabra, un "
        "nombre ni una secuencia conocida: mezcla letras y números sin un orden evidente."
    ),
    NIST: (
        "Esa contraseña es muy común o fácil de adivinar. Elige otra: una frase con palabras que "
        "no suelan ir juntas es fácil de recordar y difícil de adivinar."
    ),
}
HAS_USERNAME = "La contraseña no debe contener tu usuario. Elige una que no lo incluya."
HAS_EMAIL = (
    "La contraseña no debe contener tu correo electrónico ni una parte de él. Elige otra."
)
HAS_PORTAL_NAME = (
    "La contraseña no debe contener el nombre de la Oficina Virtual ni el de la empresa. "
    "Elige otra."
)


def normalize(password: str) -> str:
    """The form a password is checked and hashed in (NFKC: one form per typed text)."""
    return unicodedata.normalize("NFKC", password)


def _fold(text: str) -> str:
    """Lower case without accents, for "does it contain" comparisons."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _compact(text: str) -> str:
    return "".join(char for char in text if char.isalnum())


def _setting(key: str, default):
    return current_app.config.get(key, default) if has_app_context() else default


def _portal_words() -> list[str]:
    utility = _setting("OV_UTILITY_NAME", "")
    words = [word for word in re.split(r"\W+", _fold(utility)) if len(word) >= MIN_CONTEXT_WORD]
    words += [_compact(_fold(word)) for word in PORTAL_WORDS]
    return list(dict.fromkeys(words))



def _email_words(email: str) -> list[str]:
    local = _fold(email.strip().rsplit("@", 1)[0]) if email.strip() else ""
    pieces = [local, _compact(local), *re.split(r"[^0-9a-z]+", local)]
    return [piece for piece in dict.fromkeys(pieces) if len(piece) >= MIN_CONTEXT_WORD]


def _format_problems(password: str, policy: str) -> list[str]:
    if policy == SEED:
        return [] if SEED_PATTERN.fullmatch(password) else [SEED_FORMAT]
    problems = []
    if len(password) < NIST_MIN:
        problems.append(NIST_TOO_SHORT)
    elif len(password) > NIST_MAX:
        problems.append(NIST_TOO_LONG)
    if not password.isprintable():
        problems.append(NIST_UNPRINTABLE)
    return problems


def _context_problems(password: str, username: str, email_words: list[str]) -> list[str]:
    folded = _fold(password)
    haystacks = (folded, _compact(folded))
    problems = []
    name = _fold(username.strip())
    if len(name) >= MIN_CONTEXT_WORD and any(name in text for text in haystacks):
        problems.append(HAS_USERNAME)
    if any(word in text for word in email_words for text in haystacks):
        problems.append(HAS_EMAIL)
    if any(word in text for word in _portal_words() for text in haystacks):
        problems.append(HAS_PORTAL_NAME)
    return problems


def is_common(password: str, user_inputs: list[str] | None = None) -> bool:
    """True when zxcvbn finds the password guessable (see the module docstring for the rule)."""
    sample = password[:ZXCVBN_MAX_INPUT]
    if not sample:
        return True
    result = zxcvbn(sample, user_inputs=user_inputs or [])
    if result["score"] < MIN_SCORE:
        return True
    listed = sum(
        len(match["token"])
        for match in result["sequence"]
        if match["pattern"] == "dictionary" and match.get("dictionary_name") == "passwords"
    )
    return listed >= COMMON_SHARE * len(sample)


def check(
    password: str, *, username: str = "", email: str = "", policy: str | None = None
) -> list[str]:
    """What is wrong with ``password``, as Spanish messages that say what to do ([] = fine)."""
    policy = policy or _setting("OV_PASSWORD_POLICY", SEED)
    if policy not in (SEED, NIST):
        raise ValueError(f"unknown password policy {policy!r}")
    if policy == NIST:
        password = normalize(password)
    email_words = _email_words(email)
    problems = _format_problems(password, policy)
    problems += _context_problems(password, username, email_words)
    if not problems:  # a common-password verdict would only add noise to the above
        user_inputs = [word for word in [_fold(username.strip()), *email_words] if word]
        user_inputs += _portal_words()
        if is_common(password, user_inputs):
            problems.append(COMMON[policy])
    return problems


# --- hashing -------------------------------------------------------------------------------

# OWASP Password Storage Cheat Sheet, argon2id: m=19456 KiB (19 MiB), t=2, p=1.
STRONG = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}
# The cheapest parameters argon2 accepts: for tests only (OV_ARGON2_FAST).
FAST = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


@cache
def _hasher_for(fast: bool) -> PasswordHasher:
    return PasswordHasher(**(FAST if fast else STRONG))


def _hasher() -> PasswordHasher:
    return _hasher_for(bool(_setting("OV_ARGON2_FAST", False)))


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of a random secret nobody knows, made once per parameter set."""
    return hasher.hash(secrets.token_urlsafe(24))


def hash_password(password: str) -> str:
    return _hasher().hash(normalize(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed hash is a mismatch (after the same work)."""
    hasher = _hasher()
    try:
        return hasher.verify(password_hash, normalize(password))
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError):
        verify_dummy(password)
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters (rehash it after a good login)."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


def verify_dummy(password: str) -> bool:
    """Do a verification's work against a hash nobody knows, so unknown users take as long.

    Always False.
    """
    hasher = _hasher()
    with suppress(VerificationError):
        hasher.verify(_dummy_hash(hasher), normalize(password))
    return False
