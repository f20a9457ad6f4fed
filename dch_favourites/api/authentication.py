"""Bearer tokens of django-oauth-toolkit, checked in one query.

The token row, its user and the user's list state come back together, so a conditional
GET is answered from that single query. The checks are django-oauth-toolkit's own
(``AccessToken.is_expired``, ``allow_scopes``); revoked tokens are deleted rows there.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import get_access_token_model
from rest_framework import authentication, permissions, throttling
from rest_framework.request import Request

from dch_favourites.api.errors import REALM, InsufficientScope, InvalidToken
from dch_favourites.conf import app_settings

# RFC 6750 b64token, bounded so a hostile header costs nothing to reject.
B64TOKEN = re.compile(r"\A[A-Za-z0-9\-._~+/]{1,512}=*\Z")


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` with a django-oauth-toolkit access token.

    Tokens in the query string or the body are not looked at. A token without a user
    (client credentials), of an inactive user, expired or unknown is refused.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        scheme, _sep, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not B64TOKEN.match(token):
            raise InvalidToken(_("The Authorization header is not 'Bearer <token>'."))
        checksum = hashlib.sha256(token.encode("ascii")).hexdigest()
        access_token = (
            get_access_token_model()
            .objects.select_related("user", "user__dch_favourites_state")
            .filter(token_checksum=checksum)
            .first()
        )
        if access_token is None:
            raise InvalidToken(_("The access token is unknown or revoked."))
        if access_token.is_expired():
            raise InvalidToken(_("The access token has expired."))
        user = access_token.user
        if user is None or not user.is_active:
            raise InvalidToken(_("The access token does not belong to an active user."))
        return user, access_token

    def authenticate_header(self, request: Request) -> str:
        return REALM


class HasMethodScope(permissions.BasePermission):
    """GET and HEAD need ``READ_SCOPE``, every other method ``WRITE_SCOPE``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is None:
            return False
        scope = (
            app_settings.READ_SCOPE
            if request.method in permissions.SAFE_METHODS
            else app_settings.WRITE_SCOPE
        )
        if not request.auth.allow_scopes([scope]):
            raise InsufficientScope(scope)
        return True


class WriteRateThrottle(throttling.UserRateThrottle):
    """Limits a listener's POSTs to ``WRITE_THROTTLE_RATE`` (off when None)."""

    scope = "dch_favourites_write"

    def get_rate(self) -> str | None:
        rate = app_settings.WRITE_THROTTLE_RATE
        return rate if isinstance(rate, str) else None

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
