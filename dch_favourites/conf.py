"""The app's settings: one ``DCH_FAVOURITES`` dict, read through :data:`app_settings`.

A site sets only the keys it changes. The values are read again on ``setting_changed`` (so
``override_settings`` works) and judged by the system checks in :mod:`dch_favourites.checks`.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTINGS_NAME = "DCH_FAVOURITES"


@dataclass
class AppSettings:
    """Typed access to ``DCH_FAVOURITES`` with the defaults filled in."""

    #: Protocol-relative prefix of every href ("//host/v2"); None derives it from the request.
    API_BASE_URL: str | None = None
    #: How many ids one POST may carry (id=a&id=b...).
    MAX_IDS_PER_REQUEST: int = 50
    #: How long one listener's list may grow.
    MAX_FAVOURITES_PER_USER: int = 1000
    #: Languages the API answers in (Accept-Language); titles in the others are translations.
    LANGUAGES: tuple[str, ...] = ("en", "de")
    #: The language of the titles stored on the item itself, and the answer when the request
    #: asks for none of LANGUAGES; a missing translation falls back to it field by field.
    DEFAULT_LANGUAGE: str = "en"
    #: Throttle rate for POSTs per listener ("120/min"); None switches throttling off.
    WRITE_THROTTLE_RATE: str | None = "600/min"
    #: The cache alias that counts the write throttle (share it between workers: Redis).
    THROTTLE_CACHE: str = "default"
    #: The cache alias that keeps rendered favourites documents; None switches it off.
    DOCUMENT_CACHE: str | None = "default"
    #: How long a rendered document is kept, in seconds (a new version makes a new key).
    DOCUMENT_CACHE_TIMEOUT: int = 24 * 3600
    #: Largest request body the POST accepts, in bytes.
    MAX_BODY_SIZE: int = 16384
    #: Whether GET <API_BASE_URL>/<type>/<id> may be read without a token.
    ITEM_ENDPOINT_PUBLIC: bool = True

    def as_dict(self) -> dict[str, Any]:
        """Every setting as given, the site's values over the defaults."""
        given = getattr(settings, SETTINGS_NAME, {})
        return {**DEFAULTS, **(given if isinstance(given, dict) else {})}

    def reload(self) -> None:
        """Read ``settings`` again (``setting_changed`` does it for ``override_settings``)."""
        values = self.as_dict()
        # Kept typed whatever was given: the system checks report a wrong value.
        with suppress(TypeError):
            values["LANGUAGES"] = tuple(values["LANGUAGES"])
        for name in ("MAX_IDS_PER_REQUEST", "MAX_FAVOURITES_PER_USER", "MAX_BODY_SIZE"):
            with suppress(TypeError, ValueError):
                values[name] = int(values[name])
        for name in ("WRITE_THROTTLE_RATE", "DOCUMENT_CACHE"):
            values[name] = values[name] if isinstance(values[name], str) else None
        values["ITEM_ENDPOINT_PUBLIC"] = bool(values["ITEM_ENDPOINT_PUBLIC"])
        for name in DEFAULTS:  # unknown keys are the checks' business (E002)
            setattr(self, name, values[name])


DEFAULTS: dict[str, Any] = asdict(AppSettings())

app_settings = AppSettings()
app_settings.reload()


@receiver(setting_changed)
def _reload_app_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTINGS_NAME:
        app_settings.reload()
