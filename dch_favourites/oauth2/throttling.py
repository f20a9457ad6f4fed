"""Rates at the token endpoint: failed client authentications and device grants.

Each is counted per client and per address (DRF's, ``NUM_PROXIES``) by the API's write
throttle, an exact count in ``THROTTLE_CACHE``. The rates are DRF's
``DEFAULT_THROTTLE_RATES`` of the scopes in :data:`DEFAULT_RATES`; ``None`` switches one off.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from oauthlib.oauth2.rfc6749 import errors  # type: ignore[import-untyped]
from rest_framework.request import Request
from rest_framework.settings import api_settings

from dch_favourites.api.throttling import WriteRateThrottle
from dch_favourites.conf import app_settings

logger = logging.getLogger(__name__)

#: Failed client authentications (a wrong secret, an unknown client id) lock the client, or
#: the address, out for the rest of the window, the right secret included; the client's rate
#: is higher because every installation of an app shares its client id.
DEFAULT_RATES: dict[str, str | None] = {
    "dch_favourites_client_failures_client": "100/min",
    "dch_favourites_client_failures_address": "10/min",
    "dch_favourites_device_grants_client": "1000/hour",
    "dch_favourites_device_grants_address": "20/hour",
}


class TooManyAttempts(errors.OAuth2Error, PermissionDenied):  # type: ignore[misc]
    """429 with ``Retry-After``: a rate at the token endpoint, or django-axes, refuses.

    oauthlib's endpoints answer it; django-oauth-toolkit's client-protected views (token
    introspection) call the validator outside them, where Django answers it with a 403.
    """

    status_code = 429

    def __init__(self, retry_after: int, request: Any, error: str, reason: str) -> None:
        self.error = error
        self.retry_after = retry_after
        super().__init__(f"{reason}: try again in {retry_after} seconds.", request=request)  # type: ignore[call-arg]

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class SignInThrottle(WriteRateThrottle):
    """Counts ``client_failures`` or ``device_grants`` of one client id, or of the address."""

    def __init__(self, counts: str, request: HttpRequest, client_id: str | None = None) -> None:
        self.scope = f"dch_favourites_{counts}_{'address' if client_id is None else 'client'}"
        ident = self.get_ident(Request(request)) if client_id is None else client_id
        # Any text (a client id is the client's to choose) makes a valid cache key.
        self.ident = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()
        super().__init__()

    def get_rate(self) -> str | None:
        rate = {**DEFAULT_RATES, **api_settings.DEFAULT_THROTTLE_RATES}[self.scope]
        return rate if isinstance(rate, str) else None

    def get_cache_key(self, request: Any, view: Any) -> str:
        # The write throttle's allow_request() adds the window.
        return f"dch_favourites:throttle:{self.scope}:{self.ident}"

    def refuse_if_reached(self, request: Any) -> None:
        """429 ``invalid_client`` while this window's failures have reached the rate."""
        if self.rate is None:
            return
        self.now = self.timer()
        key = f"{self.get_cache_key(None, None)}:{int(self.now // self.duration)}"
        alias = app_settings.THROTTLE_CACHE
        try:
            count = caches[alias].get(key, 0)
        except Exception as error:
            unavailable = "Cache %r unavailable (%s); the sign-in rates let the request through."
            logger.warning(unavailable, alias, type(error).__name__)
            return
        if int(count) >= self.num_requests:
            reason = "Too many failed client authentications"
            raise TooManyAttempts(int(self.wait() or 1), request, "invalid_client", reason)
