"""The app's system checks: ``DCH_FAVOURITES``, the throttle's cache, the JWT generator's key."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem

from dch_favourites.api.throttling import WriteRateThrottle
from dch_favourites.conf import DEFAULTS, SETTINGS_NAME, app_settings
from dch_favourites.oauth2.generators import signed_access_token

#: Cache backends whose data lives in one process: each worker would count on its own.
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)

LANGUAGE = re.compile(r"\A[a-z]{2,3}(-[a-z0-9]{2,8})*\Z")
BASE_URL = re.compile(r"(https?:)?//[^/\s]+(/[^\s{}]*)?")


def _error(number: int, message: str, hint: str) -> Error:
    return Error(message, hint=hint, id=f"dch_favourites.E{number:03d}")


def _positive_int(value: Any, _values: Any = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _languages(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(isinstance(code, str) and LANGUAGE.match(code) for code in value)
        and len(set(value)) == len(value)
    )


def _readable_rate(rate: Any) -> bool:
    """Whether DRF's ``parse_rate`` reads ``rate`` as a positive number of requests."""
    try:
        limit, _duration = WriteRateThrottle().parse_rate(rate)
    except Exception:  # whatever DRF's parsing raises: a split, an int(), a dict lookup
        return False
    return limit is not None and limit > 0


def _cache_alias(value: Any) -> bool:
    return isinstance(value, str) and value in settings.CACHES


POSITIVE = "must be a positive integer."
Usable = Callable[[Any, dict[str, Any]], bool]
#: Whether a key's value (given all the values) is one the app can work with.
USABLE: dict[str, Usable] = {
    "API_BASE_URL": lambda v, _: (
        v is None or (isinstance(v, str) and bool(BASE_URL.fullmatch(v)) and not v.endswith("/"))
    ),
    "LANGUAGES": lambda v, _: _languages(v),
    # Reported only once LANGUAGES is right.
    "DEFAULT_LANGUAGE": lambda v, s: not _languages(s["LANGUAGES"]) or v in s["LANGUAGES"],
    "WRITE_THROTTLE_RATE": lambda v, _: v is None or _readable_rate(v),
    "THROTTLE_CACHE": lambda v, _: _cache_alias(v),
    "DOCUMENT_CACHE": lambda v, _: v is None or _cache_alias(v),
    "ITEM_ENDPOINT_PUBLIC": lambda v, _: isinstance(v, bool),
}
#: Each key's error number, message and hint, in the order they are reported.
RULES = (
    (3, "API_BASE_URL", "must be a URL like '//api.example.com/v2'.", "{base_url}"),
    (6, "MAX_IDS_PER_REQUEST", POSITIVE, "Default: {}."),
    (7, "MAX_FAVOURITES_PER_USER", POSITIVE, "Default: {}."),
    (8, "MAX_BODY_SIZE", POSITIVE, "Default: {}."),
    (9, "LANGUAGES", "must be a non-empty list of distinct language codes.", "{languages_hint}"),
    (10, "DEFAULT_LANGUAGE", "must be one of LANGUAGES.", "One of: {languages}."),
    (11, "WRITE_THROTTLE_RATE", "must be a DRF rate like '120/min', or None.", "{rate}"),
    (14, "THROTTLE_CACHE", "must name one of the CACHES.", "Known aliases: {caches}."),
    (15, "DOCUMENT_CACHE", "must name one of the CACHES, or be None.", "Known aliases: {caches}."),
    (16, "DOCUMENT_CACHE_TIMEOUT", POSITIVE, "Seconds; default: {}."),
    (12, "ITEM_ENDPOINT_PUBLIC", "must be True or False.", "Default: {}."),
)
HINTS = {
    "base_url": "Protocol-relative or http(s), with no trailing slash; or None to derive it.",
    "languages_hint": "Lower-case codes such as ('en', 'de').",
    "rate": "Number of requests, '/', and s, min, hour or day.",
}
#: Keys of earlier releases, and what to do instead.
REMOVED = {
    **{
        key: f'The scope comes from django-oauth-toolkit: set OAUTH2_PROVIDER["{key}"] instead,'
        for key in ("READ_SCOPE", "WRITE_SCOPE")
    },
    "DOCUMENT_NEAR_CACHE": "Documents are kept in DOCUMENT_CACHE alone:",
    "DOCUMENT_CACHE_COMPRESSION": "Documents are kept as rendered:",
    "CACHE_RETRY_AFTER": "Give the cache a short socket_timeout in CACHES instead,",
    "PREPARED_STATEMENTS": "psycopg prepares statements itself with "
    '"server_side_binding": True, "prepare_threshold": 5 in DATABASES[...]["OPTIONS"];',
}


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report every ``DCH_FAVOURITES`` value that the app cannot work with."""
    raw = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(raw, dict):
        return [_error(1, f"{SETTINGS_NAME} must be a dict.", f"Set {SETTINGS_NAME} = {{...}}.")]
    errors: list[CheckMessage] = []
    unknown = sorted(set(raw) - set(DEFAULTS) - set(REMOVED))
    if unknown:
        message = f"{SETTINGS_NAME} has unknown keys: {', '.join(map(str, unknown))}."
        errors.append(_error(2, message, f"Known keys: {', '.join(sorted(DEFAULTS))}."))
    values = app_settings.as_dict()
    known = {
        **HINTS,
        "caches": ", ".join(sorted(settings.CACHES)),
        "languages": ", ".join(values["LANGUAGES"]) if _languages(values["LANGUAGES"]) else "",
    }
    for number, key, message, hint in RULES:
        usable: Usable = USABLE.get(key, _positive_int)
        if not usable(values[key], values):
            hint = hint.format(DEFAULTS[key], **known)
            errors.append(_error(number, f"{SETTINGS_NAME}['{key}'] {message}", hint))
    for key in sorted(set(raw) & set(REMOVED)):
        hint = f"{REMOVED[key]} and remove {key} from {SETTINGS_NAME}."
        errors.append(_error(13, f"{SETTINGS_NAME}['{key}'] is no longer read.", hint))
    return errors


@register()
def check_throttle_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when the write throttle counts in a per-process cache outside DEBUG."""
    values = app_settings.as_dict()
    alias = values["THROTTLE_CACHE"]
    if not isinstance(getattr(settings, SETTINGS_NAME, {}), dict) or settings.DEBUG:
        return []
    if values["WRITE_THROTTLE_RATE"] is None or not _cache_alias(alias):
        return []  # an unknown alias is reported by check_settings (E014)
    if settings.CACHES[alias].get("BACKEND", "") not in PER_PROCESS_CACHES:
        return []
    return [
        Warning(
            f"The write throttle counts in the per-process cache {alias!r}: with several "
            "workers each counts on its own, and lets the rate through once per worker.",
            hint=f"Point {SETTINGS_NAME}['THROTTLE_CACHE'] at a cache all workers share, "
            "e.g. django.core.cache.backends.redis.RedisCache.",
            id="dch_favourites.W001",
        )
    ]


def signing_key_problem(pem: str) -> str | None:
    """What keeps ``pem`` from signing access tokens, or None."""
    if not pem:
        return "is not set"
    try:
        key = jwk_from_pem(pem)
    except ValueError as error:
        return f"is not a PEM key ({error})"
    if not key.has_private or key.get("kty") != "RSA":
        return "is not an RSA private key"
    return None


@register()
def check_token_signing(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The JWT generator without a usable key (E101), or signing refresh tokens too (W102)."""
    if oauth2_settings.ACCESS_TOKEN_GENERATOR is not signed_access_token:
        return []
    messages: list[CheckMessage] = []
    problem = signing_key_problem(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
    if problem:
        messages.append(
            Error(
                "ACCESS_TOKEN_GENERATOR signs access tokens, but "
                f"OAUTH2_PROVIDER['OIDC_RSA_PRIVATE_KEY'] {problem}.",
                hint="Set OIDC_RSA_PRIVATE_KEY to a PEM RSA private key, e.g. from 'openssl genrsa "
                "2048', or remove ACCESS_TOKEN_GENERATOR to issue opaque tokens.",
                id="dch_favourites.E101",
            )
        )
    if oauth2_settings.REFRESH_TOKEN_GENERATOR is None:
        messages.append(
            Warning(
                "ACCESS_TOKEN_GENERATOR signs access tokens and no REFRESH_TOKEN_GENERATOR "
                "is set, so refresh tokens are signed JWTs too.",
                hint="Set OAUTH2_PROVIDER['REFRESH_TOKEN_GENERATOR'] = "
                "'oauthlib.oauth2.rfc6749.tokens.random_token_generator'.",
                id="dch_favourites.W102",
            )
        )
    return messages
