"""System checks for the ``DCH_FAVOURITES`` setting (``manage.py check`` reports them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from dch_favourites.conf import DEFAULTS, SETTINGS_NAME, app_settings

THROTTLE_RATE = re.compile(r"\A[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)\Z")
SCOPE = re.compile(r"\A[\x21\x23-\x5b\x5d-\x7e]+\Z")  # RFC 6749 scope-token
LANGUAGE = re.compile(r"\A[a-z]{2,3}(-[a-z0-9]{2,8})*\Z")


def _error(number: int, message: str, hint: str) -> Error:
    return Error(message, hint=hint, id=f"dch_favourites.E{number:03d}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@register()
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report every ``DCH_FAVOURITES`` value that the app cannot work with."""
    raw = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(raw, dict):
        return [_error(1, f"{SETTINGS_NAME} must be a dict.", f"Set {SETTINGS_NAME} = {{...}}.")]
    errors: list[CheckMessage] = []
    unknown = sorted(set(raw) - set(DEFAULTS))
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
    for number, key in ((4, "READ_SCOPE"), (5, "WRITE_SCOPE")):
        if not isinstance(s[key], str) or not SCOPE.match(s[key]):
            errors.append(
                _error(
                    number,
                    f"{SETTINGS_NAME}['{key}'] must be one OAuth2 scope name.",
                    "A non-empty string without spaces or quotes, e.g. 'read'.",
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
    if rate is not None and (not isinstance(rate, str) or not THROTTLE_RATE.match(rate)):
        errors.append(
            _error(
                11,
                f"{SETTINGS_NAME}['WRITE_THROTTLE_RATE'] must be a DRF rate like '120/min', "
                "or None.",
                "Number of requests, '/', and s, min, hour or day.",
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
    return errors
