"""The app's settings: one ``DCH_FAVOURITES`` dict, read through :data:`app_settings`.

Every key has a default here; a site sets only what it changes::

    DCH_FAVOURITES = {"API_BASE_URL": "//api.example.com/v2", "MAX_FAVOURITES_PER_USER": 500}

Values are read from ``django.conf.settings`` (cached, and the cache is dropped on
``setting_changed``), so ``override_settings`` works in tests. Bad values are reported by
the system checks in :mod:`dch_favourites.checks`. The OAuth2 scopes are
django-oauth-toolkit's own ``READ_SCOPE`` and ``WRITE_SCOPE`` (``OAUTH2_PROVIDER``).
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
    # How many ids one POST may carry (id=a&id=b...).
    "MAX_IDS_PER_REQUEST": 50,
    # How long one listener's list may grow.
    "MAX_FAVOURITES_PER_USER": 1000,
    # Languages the API answers in (Accept-Language); titles in the others are translations.
    "LANGUAGES": ("en", "de"),
    # The language of the titles stored on the item itself, and the answer when the request
    # asks for none of LANGUAGES; a missing translation falls back to it field by field.
    "DEFAULT_LANGUAGE": "en",
    # Throttle rate for POSTs per listener ("120/min"); None switches throttling off.
    "WRITE_THROTTLE_RATE": "600/min",
    # The cache alias that counts the write throttle (share it between workers: Redis).
    "THROTTLE_CACHE": "default",
    # The cache alias that keeps rendered favourites documents; None switches it off.
    "DOCUMENT_CACHE": "default",
    # How long a rendered document is kept, in seconds (a new version makes a new key).
    "DOCUMENT_CACHE_TIMEOUT": 24 * 3600,
    # Largest request body the POST accepts, in bytes.
    "MAX_BODY_SIZE": 16384,
    # Whether GET <API_BASE_URL>/<type>/<id> may be read without a token.
    "ITEM_ENDPOINT_PUBLIC": True,
}

#: Keys of earlier releases, and what to do instead (reported by a system check).
REMOVED = {
    "READ_SCOPE": 'The scope comes from django-oauth-toolkit: set OAUTH2_PROVIDER["READ_SCOPE"] '
    "instead,",
    "WRITE_SCOPE": "The scope comes from django-oauth-toolkit: set "
    'OAUTH2_PROVIDER["WRITE_SCOPE"] instead,',
    "DOCUMENT_NEAR_CACHE": "Documents are kept in DOCUMENT_CACHE alone:",
    "DOCUMENT_CACHE_COMPRESSION": "Documents are kept as rendered:",
    "CACHE_RETRY_AFTER": "Give the cache a short socket_timeout in CACHES instead,",
    "PREPARED_STATEMENTS": "psycopg prepares statements itself with "
    'DATABASES[...]["OPTIONS"]["server_side_binding"] = True;',
}


class AppSettings:
    """Typed access to ``DCH_FAVOURITES`` with the defaults filled in."""

    def __init__(self) -> None:
        self._values: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        """The site's ``DCH_FAVOURITES`` as given (``{}`` when unset or not a dict)."""
        value = getattr(settings, SETTINGS_NAME, {})
        return value if isinstance(value, dict) else {}

    def as_dict(self) -> dict[str, Any]:
        """Every setting, the site's values over the defaults."""
        if self._values is None:
            self._values = {**DEFAULTS, **self.user_settings}
        return self._values

    def reload(self) -> None:
        """Forget cached values; the next access reads ``settings`` again."""
        self._values = None

    @property
    def API_BASE_URL(self) -> str | None:
        return self.as_dict()["API_BASE_URL"]  # type: ignore[no-any-return]

    @property
    def MAX_IDS_PER_REQUEST(self) -> int:
        return int(self.as_dict()["MAX_IDS_PER_REQUEST"])

    @property
    def MAX_FAVOURITES_PER_USER(self) -> int:
        return int(self.as_dict()["MAX_FAVOURITES_PER_USER"])

    @property
    def LANGUAGES(self) -> tuple[str, ...]:
        return tuple(self.as_dict()["LANGUAGES"])

    @property
    def DEFAULT_LANGUAGE(self) -> str:
        return str(self.as_dict()["DEFAULT_LANGUAGE"])

    @property
    def WRITE_THROTTLE_RATE(self) -> str | None:
        rate = self.as_dict()["WRITE_THROTTLE_RATE"]
        return rate if isinstance(rate, str) else None

    @property
    def THROTTLE_CACHE(self) -> str:
        return str(self.as_dict()["THROTTLE_CACHE"])

    @property
    def DOCUMENT_CACHE(self) -> str | None:
        alias = self.as_dict()["DOCUMENT_CACHE"]
        return alias if isinstance(alias, str) else None

    @property
    def DOCUMENT_CACHE_TIMEOUT(self) -> int:
        return int(self.as_dict()["DOCUMENT_CACHE_TIMEOUT"])

    @property
    def MAX_BODY_SIZE(self) -> int:
        return int(self.as_dict()["MAX_BODY_SIZE"])

    @property
    def ITEM_ENDPOINT_PUBLIC(self) -> bool:
        return bool(self.as_dict()["ITEM_ENDPOINT_PUBLIC"])


app_settings = AppSettings()


@receiver(setting_changed)
def _reload_app_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTINGS_NAME:
        app_settings.reload()
