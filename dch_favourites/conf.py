"""The app's settings: one ``DCH_FAVOURITES`` dict, read through :data:`app_settings`.

Every key has a default here; a site sets only what it changes::

    DCH_FAVOURITES = {"API_BASE_URL": "//api.example.com/v2", "MAX_FAVOURITES_PER_USER": 500}

Values are read on each access from ``django.conf.settings`` (cached, and the cache is
dropped on ``setting_changed``), so ``override_settings`` works in tests. Bad values are
reported by the system checks in :mod:`dch_favourites.checks`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTINGS_NAME = "DCH_FAVOURITES"

DEFAULTS: dict[str, Any] = {
    # Protocol-relative prefix of every href ("//host/v2"); None derives it from the request.
    "API_BASE_URL": None,
    # OAuth2 scope a token needs to read the list, and to change it.
    "READ_SCOPE": "read",
    "WRITE_SCOPE": "write",
    # How many ids one POST may carry (id=a&id=b...).
    "MAX_IDS_PER_REQUEST": 50,
    # How long one listener's list may grow.
    "MAX_FAVOURITES_PER_USER": 1000,
    # Languages the API answers in (Accept-Language); titles in the others are translations.
    "LANGUAGES": ("en", "de"),
    # The language of the titles stored on the item itself, and the answer when the request
    # asks for none of LANGUAGES; a missing translation falls back to it field by field.
    "DEFAULT_LANGUAGE": "en",
    # DRF throttle rate for POSTs per listener ("120/min"); None switches throttling off.
    "WRITE_THROTTLE_RATE": "600/min",
    # Largest request body the POST accepts, in bytes.
    "MAX_BODY_SIZE": 16384,
    # Whether GET <API_BASE_URL>/<type>/<id> may be read without a token.
    "ITEM_ENDPOINT_PUBLIC": True,
}


class AppSettings:
    """Attribute access to ``DCH_FAVOURITES`` with the defaults filled in."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, SETTINGS_NAME, {})
        return value if isinstance(value, dict) else {}

    def as_dict(self) -> dict[str, Any]:
        """Every setting, the site's values over the defaults."""
        if self._cache is None:
            self._cache = {**DEFAULTS, **self.user_settings}
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"{SETTINGS_NAME} has no setting {name!r}")
        return self.as_dict()[name]

    def reload(self) -> None:
        """Forget cached values; the next access reads ``settings`` again."""
        self._cache = None


app_settings = AppSettings()


@receiver(setting_changed)
def _reload_app_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTINGS_NAME:
        app_settings.reload()
