"""Bearer tokens of django-oauth-toolkit, checked in one query.

The token row, its user and the user's list state come back together, so a conditional
GET is answered from that single query. The checks are django-oauth-toolkit's own
(``AccessToken.is_expired``, ``allow_scopes``); revoked tokens are deleted rows there.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import router
from oauth2_provider.models import AbstractAccessToken, get_access_token_model
from rest_framework import authentication, permissions, throttling
from rest_framework.request import Request

from dch_favourites.api.errors import REALM, InsufficientScope, InvalidToken
from dch_favourites.conf import app_settings
from dch_favourites.models import FavouriteListState, compiled_rows

# RFC 6750 b64token, bounded so a hostile header costs nothing to reject.
B64TOKEN = re.compile(r"\A[A-Za-z0-9\-._~+/]{1,512}=*\Z")


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` with a django-oauth-toolkit access token.

    A refusal's reason goes to the ``error_description`` of ``WWW-Authenticate`` (the 401
    body is the legacy one), which RFC 6750 limits to ASCII: the reasons stay in English.
    Tokens in the query string or the body are not looked at. An expired or unknown token,
    or one of an inactive user, is refused; so is a token without a user (an app's device
    token, client credentials) unless ``accept_device_tokens`` says otherwise.
    """

    #: Whether a token without a user authenticates, as an anonymous user.
    accept_device_tokens = False

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        scheme, _sep, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not B64TOKEN.match(token):
            raise InvalidToken("The Authorization header is not 'Bearer <token>'.")
        checksum = hashlib.sha256(token.encode("ascii")).hexdigest()
        access_token = find_access_token(checksum)
        if access_token is None:
            raise InvalidToken("The access token is unknown or revoked.")
        if access_token.is_expired():
            raise InvalidToken("The access token has expired.")
        user = access_token.user
        if user is None and self.accept_device_tokens:
            return AnonymousUser(), access_token
        if user is None or not user.is_active:
            raise InvalidToken("The access token does not belong to an active user.")
        return user, access_token

    def authenticate_header(self, request: Request) -> str:
        return REALM


#: The token's and the user's fields the API reads; the others are deferred, as with
#: ``.only()``, and load on first access.
TOKEN_FIELDS = ("user_id", "expires", "scope")
USER_FIELDS = ("is_active",)


def find_access_token(checksum: str) -> Any | None:
    """The access token with ``token_checksum``, its user and the user's list state, or None.

    What ``select_related("user", "user__dch_favourites_state").only(...)`` would load, in
    one query whose SQL is compiled once per database (see
    :func:`~dch_favourites.models.compiled_rows`); the instances are built with
    ``Model.from_db`` as the ORM builds them, fields other than :data:`TOKEN_FIELDS` and
    :data:`USER_FIELDS` deferred.
    """
    token_model, token_fields, user_model, user_fields = _token_query_shape(
        get_access_token_model(), get_user_model()
    )
    using = router.db_for_read(token_model)
    rows = compiled_rows(
        using,
        ("access_token", token_model._meta.label, user_model._meta.label),
        lambda value: token_model.objects.filter(token_checksum=value).values_list(
            *token_fields,
            *(f"user__{name}" for name in user_fields),
            "user__dch_favourites_state__version",
            "user__dch_favourites_state__updated",
        )[:1],
        (checksum,),
    )
    if not rows:
        return None
    row = rows[0]
    access_token = token_model.from_db(using, token_fields, row[: len(token_fields)])
    user_values = row[len(token_fields) : len(token_fields) + len(user_fields)]
    user = None
    if user_values[user_fields.index(user_model._meta.pk.attname)] is not None:
        user = user_model.from_db(using, user_fields, user_values)
        version, updated = row[-2:]
        state = None
        if version is not None:
            state = FavouriteListState.from_db(
                using, ["user_id", "version", "updated"], [user.pk, version, updated]
            )
        # Cached on the user only (None: known to be missing, as select_related leaves it),
        # so user and state do not refer to each other and are freed without the cyclic GC.
        type(user).dch_favourites_state.related.set_cached_value(user, state)
    access_token.user = user
    return access_token


@lru_cache(maxsize=8)
def _token_query_shape(token_model: Any, user_model: Any) -> tuple[Any, ...]:
    """The two models, each with the fields to load: its primary key and the wanted ones."""

    def loaded(model: Any, wanted: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(
            field.attname
            for field in model._meta.concrete_fields
            if field.primary_key or field.attname in wanted
        )

    token_fields = loaded(token_model, TOKEN_FIELDS)
    return token_model, token_fields, user_model, loaded(user_model, USER_FIELDS)


class DeviceTokenAuthentication(BearerTokenAuthentication):
    """Bearer tokens, listeners' and apps' device tokens alike (for public resources)."""

    accept_device_tokens = True


class HasMethodScope(permissions.BasePermission):
    """GET and HEAD need ``READ_SCOPE``, every other method ``WRITE_SCOPE``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token: AbstractAccessToken | None = request.auth  # what authenticate() returned
        if token is None:
            return False
        scope = (
            app_settings.READ_SCOPE
            if request.method in permissions.SAFE_METHODS
            else app_settings.WRITE_SCOPE
        )
        if not token.allow_scopes([scope]):
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
