"""The validator of the original service's sign-in (``OAUTH2_VALIDATOR_CLASS``).

django-oauth-toolkit's :class:`~oauth2_provider.oauth2_validators.OAuth2Validator`, plus:

- the ``device`` grant (:mod:`dch_favourites.oauth2.grants`): each installation is kept as
  a :class:`~dch_favourites.models.Device`, its device token (no user) and refresh token
  linked to it;
- the password grant authenticated by ``Authorization: Bearer <device token>`` alone: the
  listener's token belongs to the device token's application and device. Client
  credentials in the body or HTTP Basic keep working;
- the refresh grant keeps a token on its device; a device's own refresh token renews its
  device token;
- a sign-in refused because django-axes locked the listener or the address out answers
  429 with ``Retry-After`` instead of ``invalid_grant`` with 400.

Every other decision is django-oauth-toolkit's.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.db import DataError, router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    revoke_access_token,
    set_token_value,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors  # type: ignore[import-untyped]

from dch_favourites.models import Device
from dch_favourites.oauth2.grants import DEVICE_GRANT_TYPE

#: Grant types of an Application that may also use the ``device`` grant.
DEVICE_GRANT_ALLOWED_FOR = (
    AbstractApplication.GRANT_PASSWORD,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS,
)


def checksum(token: str) -> str:
    """The SHA-256 hex digest tokens are looked up by, as django-oauth-toolkit stores it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_credential(request: Any) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _sep, value = (request.headers.get("Authorization") or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        return None
    return value


class SignInLocked(errors.OAuth2Error):  # type: ignore[misc]
    """429: too many failed sign-ins for this listener or this address (django-axes)."""

    error = "invalid_grant"
    status_code = 429

    def __init__(self, retry_after: int, request: Any) -> None:
        self.retry_after = retry_after
        super().__init__(
            description=f"Too many failed sign-ins: try again in {retry_after} seconds.",
            request=request,
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def lockout_seconds(http_request: Any) -> int | None:
    """How long django-axes locks a sign-in out (its cool-off), or None when it does not.

    django-axes marks the Django request of a refused sign-in ``axes_locked_out``; a
    permanent lock (no ``AXES_COOLOFF_TIME``) stays a plain ``invalid_grant``. The value
    is the whole cool-off, an upper bound of the time left.
    """
    if not getattr(http_request, "axes_locked_out", False):
        return None
    cool_off: timedelta | None = import_string("axes.helpers.get_cool_off")(http_request)
    if cool_off is None:
        return None
    return max(1, int(cool_off.total_seconds()))


class DeviceOAuth2Validator(OAuth2Validator):  # type: ignore[misc]
    """django-oauth-toolkit's validator with the original service's devices and sign-in.

    Bearer tokens are judged as :class:`~dch_favourites.oauth2.bearer.BearerTokenValidator`
    does: the toolkit's checks, with one lean query.
    """

    # -- client authentication ---------------------------------------------------------

    # A client id with a NUL character names no application; psycopg 3 refuses to send
    # one (DataError, where the toolkit expects psycopg 2's ValueError).

    def client_authentication_required(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if bearer_credential(request) is not None and request.grant_type == "password":
            return True
        try:
            return bool(super().client_authentication_required(request, *args, **kwargs))
        except DataError:
            return True

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """HTTP Basic or body credentials; for the password grant also a device token."""
        token = bearer_credential(request)
        if token is not None and request.grant_type == "password":
            return self.authenticate_device_token(token, request)
        if "\x00" in (request.client_id or ""):
            return False
        try:
            return bool(super().authenticate_client(request, *args, **kwargs))
        except DataError:
            return False

    def authenticate_client_id(
        self, client_id: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if "\x00" in (client_id or ""):
            return False
        return bool(super().authenticate_client_id(client_id, request, *args, **kwargs))

    def authenticate_device_token(self, token: str, request: Any) -> bool:
        """Authenticate the client by a live device token of a connected device.

        Sets ``request.client`` to the token's application and ``request.dch_device`` to its
        device. An unknown, revoked, expired or user token, one of a disconnected device
        or of another application than a ``client_id`` sent beside it, is refused.
        """
        access_token = (
            get_access_token_model()
            .objects.select_related("application", "dch_device_link__device")
            .filter(token_checksum=checksum(token))
            .first()
        )
        if access_token is None or access_token.user_id is not None:
            return False
        application = access_token.application
        if access_token.is_expired() or application is None or not application.is_usable(request):
            return False
        link = getattr(access_token, "dch_device_link", None)
        if link is None or link.device.disconnected is not None:
            return False
        if request.client_id and request.client_id != application.client_id:
            return False
        request.client = application
        request.client_id = application.client_id
        request.dch_device = link.device
        return True

    def validate_grant_type(
        self, client_id: Any, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if grant_type == DEVICE_GRANT_TYPE:
            return bool(
                client.client_type == AbstractApplication.CLIENT_CONFIDENTIAL
                and client.allows_grant_type(*DEVICE_GRANT_ALLOWED_FOR)
            )
        return bool(
            super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)
        )

    # -- password grant ----------------------------------------------------------------

    def build_http_request(self, request: Any) -> Any:
        http_request = super().build_http_request(request)
        request.dch_http_request = http_request  # read back by validate_user
        return http_request

    def validate_user(
        self, username: str, password: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """django-oauth-toolkit's check, answering 429 while django-axes locks it out."""
        if "\x00" in username:
            return False  # no user has one; psycopg 3 would refuse the query
        if super().validate_user(username, password, client, request, *args, **kwargs):
            return True
        seconds = lockout_seconds(getattr(request, "dch_http_request", None))
        if seconds is not None:
            raise SignInLocked(seconds, request)
        return False

    # -- refresh grant -----------------------------------------------------------------

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """A listener's refresh token (django-oauth-toolkit), or a device's own."""
        if super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            previous = request.refresh_token_instance.access_token_id
            device = Device.objects.filter(tokens__access_token_id=previous).first()
            if device is not None and device.disconnected is not None:
                return False
            request.dch_device = device
            return True
        if getattr(request, "refresh_token_instance", None) is not None:
            return False  # a listener's token, refused by django-oauth-toolkit
        device = Device.objects.filter(
            refresh_token_checksum=checksum(refresh_token),
            application=client,
            disconnected__isnull=True,
        ).first()
        if device is None:
            return False
        request.user = None
        request.refresh_token = refresh_token
        request.dch_device = device
        request.dch_device_refresh = True
        return True

    def get_original_scopes(
        self, refresh_token: str, request: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if getattr(request, "dch_device_refresh", False):
            return self.get_default_scopes(request.client_id, request)
        return super().get_original_scopes(refresh_token, request, *args, **kwargs)

    # -- saving tokens -----------------------------------------------------------------

    def save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """Save the token as django-oauth-toolkit does, and link it to its device."""
        with transaction.atomic(using=router.db_for_write(get_access_token_model())):
            if request.grant_type == DEVICE_GRANT_TYPE or getattr(
                request, "dch_device_refresh", False
            ):
                return self.save_device_token(token, request)
            result = super().save_bearer_token(token, request, *args, **kwargs)
            device = getattr(request, "dch_device", None)
            if device is not None:
                access_token = get_access_token_model().objects.get(
                    token_checksum=checksum(token["access_token"])
                )
                device.tokens.create(access_token=access_token)
                device.user = request.user
                device.last_seen = timezone.now()
                device.save(update_fields=["user", "last_seen"])
            return result

    def save_device_token(self, token: dict[str, Any], request: Any) -> None:
        """A device token (no user): a new Device, or the same one renewed by its refresh token.

        A renewal replaces the device's previous device tokens; its listeners' tokens stay.
        """
        now = timezone.now()
        device: Device | None = getattr(request, "dch_device", None)
        if device is None:
            device = Device.objects.create(application=request.client, **request.dch_device_fields)
        else:
            for previous in get_access_token_model().objects.filter(
                dch_device_link__device=device, user__isnull=True
            ):
                revoke_access_token(previous)
        access_token = get_access_token_model()(
            user=None,
            application=request.client,
            scope=token["scope"],
            expires=now + timedelta(seconds=int(token["expires_in"])),
        )
        set_token_value(access_token, token["access_token"])
        access_token.save()
        device.tokens.create(access_token=access_token)
        device.refresh_token_checksum = checksum(token["refresh_token"])
        device.last_seen = now
        device.save(update_fields=["refresh_token_checksum", "last_seen"])
        request.dch_device = device
