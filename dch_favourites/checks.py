"""System checks for the ``DCH_FAVOURITES`` setting (``manage.py check`` reports them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from dch_favourites.api.throttling import WriteRateThrottle
from dch_favourites.conf import DEFAULTS, REMOVED, SETTINGS_NAME, app_settings

#: Cache backends whose data lives in one process: each worker would count on its own.
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)

LANGUAGE = re.compile(r"\A[a-z]{2,3}(-[a-z0-9]{2,8})*\Z")


def _error(number: int, message: str, hint: str) -> Error:
    return Error(message, hint=hint, id=f"dch_favourites.E{number:03d}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _readable_rate(rate: Any) -> bool:
    """Whether DRF's ``parse_rate`` reads ``rate`` as a positive number of requests."""
    if not isinstance(rate, str):
        return False
    try:
        limit, _duration = WriteRateThrottle().parse_rate(rate)
    except Exception:  # whatever DRF's parsing raises: a split, an int(), a dict lookup
        return False
    return limit is not None and limit > 0


@register()
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report every ``DCH_FAVOURITES`` value that the app cannot work with."""
    raw = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(raw, dict):
        return [_error(1, f"{SETTINGS_NAME} must be a dict.", f"Set {SETTINGS_NAME} = {{...}}.")]
    errors: list[CheckMessage] = []
    unknown = sorted(set(raw) - set(DEFAULTS) - set(REMOVED))
    if unknown:
        errors.append(
            _error(
                2,
                f"{SETTINGS_NAME} has unknown keys: {', '.join(map(str, unknown))}.",
                f"Known keys: {', '.join(sorted(DEFAULTS))}.",
            )
        )
    s = app_settings.as_dict()
    base = s["API_BASE_URL"]
    if base is not None and (
        not isinstance(base, str)
        or not re.fullmatch(r"(https?:)?//[^/\s]+(/[^\s{}]*)?", base)
        or base.endswith("/")
    ):
        errors.append(
            _error(
                3,
                f"{SETTINGS_NAME}['API_BASE_URL'] must be a URL like '//api.example.com/v2'.",
                "Protocol-relative or http(s), with no trailing slash; or None to derive it.",
            )
        )
    for number, key in (
        (6, "MAX_IDS_PER_REQUEST"),
        (7, "MAX_FAVOURITES_PER_USER"),
        (8, "MAX_BODY_SIZE"),
    ):
        if not _positive_int(s[key]):
            errors.append(
                _error(
                    number,
                    f"{SETTINGS_NAME}['{key}'] must be a positive integer.",
                    f"Default: {DEFAULTS[key]}.",
                )
            )
    languages = s["LANGUAGES"]
    if (
        not isinstance(languages, (list, tuple))
        or not languages
        or not all(isinstance(code, str) and LANGUAGE.match(code) for code in languages)
        or len(set(languages)) != len(languages)
    ):
        errors.append(
            _error(
                9,
                f"{SETTINGS_NAME}['LANGUAGES'] must be a non-empty list of distinct "
                "language codes.",
                "Lower-case codes such as ('en', 'de').",
            )
        )
    elif s["DEFAULT_LANGUAGE"] not in languages:
        errors.append(
            _error(
                10,
                f"{SETTINGS_NAME}['DEFAULT_LANGUAGE'] must be one of LANGUAGES.",
                f"One of: {', '.join(map(str, languages))}.",
            )
        )
    rate = s["WRITE_THROTTLE_RATE"]
    if rate is not None and not _readable_rate(rate):
        errors.append(
            _error(
                11,
                f"{SETTINGS_NAME}['WRITE_THROTTLE_RATE'] must be a DRF rate like '120/min', "
                "or None.",
                "Number of requests, '/', and s, min, hour or day.",
            )
        )
    for number, key, nullable in (
        (14, "THROTTLE_CACHE", False),
        (15, "DOCUMENT_CACHE", True),
    ):
        alias = s[key]
        if (alias is None and nullable) or (isinstance(alias, str) and alias in settings.CACHES):
            continue
        errors.append(
            _error(
                number,
                f"{SETTINGS_NAME}['{key}'] must name one of the CACHES"
                + (", or be None." if nullable else "."),
                f"Known aliases: {', '.join(sorted(settings.CACHES))}.",
            )
        )
    if not _positive_int(s["DOCUMENT_CACHE_TIMEOUT"]):
        errors.append(
            _error(
                16,
                f"{SETTINGS_NAME}['DOCUMENT_CACHE_TIMEOUT'] must be a positive integer.",
                f"Seconds; default: {DEFAULTS['DOCUMENT_CACHE_TIMEOUT']}.",
            )
        )
    if not isinstance(s["ITEM_ENDPOINT_PUBLIC"], bool):
        errors.append(
            _error(
                12,
                f"{SETTINGS_NAME}['ITEM_ENDPOINT_PUBLIC'] must be True or False.",
                "Default: True.",
            )
        )
    for key in sorted(set(raw) & set(REMOVED)):
        errors.append(
            _error(
                13,
                f"{SETTINGS_NAME}['{key}'] is no longer read.",
                f"{REMOVED[key]} and remove {key} from {SETTINGS_NAME}.",
            )
        )
    return errors


@register()
def check_throttle_cache(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Warn when the write throttle counts in a per-process cache outside DEBUG."""
    raw = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(raw, dict) or settings.DEBUG:
        return []
    values = {**DEFAULTS, **raw}
    alias = values["THROTTLE_CACHE"]
    if values["WRITE_THROTTLE_RATE"] is None or not isinstance(alias, str):
        return []
    if alias not in settings.CACHES:  # reported by check_settings (E014)
        return []
    backend = settings.CACHES[alias].get("BACKEND", "")
    if backend not in PER_PROCESS_CACHES:
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
