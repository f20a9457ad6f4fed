"""The validator of the original service's sign-in (``OAUTH2_VALIDATOR_CLASS``)."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.db import DataError, router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from jwcrypto.common import JWException  # type: ignore[import-untyped]
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
    revoke_access_token,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import generate_token  # type: ignore[import-untyped]
from oauthlib.oauth2.rfc6749.tokens import get_token_from_header  # type: ignore[import-untyped]

from dch_favourites.models import Device
from dch_favourites.oauth2.grants import DEVICE_GRANT_TYPE
from dch_favourites.oauth2.throttling import SignInThrottle, TooManyAttempts

logger = logging.getLogger("dch_favourites")


def checksum(token: str) -> str:
    """The SHA-256 hex digest tokens are looked up by, as django-oauth-toolkit stores it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def basic_client_id(request: Any) -> str | None:
    """The client id of an HTTP Basic ``Authorization`` header (RFC 6749 2.3.1): None without
    one, ``""`` when its credentials cannot be read."""
    scheme, _space, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64, or not UTF-8
        return ""
    client_id, colon, _secret = decoded.partition(":")
    return unquote_plus(client_id) if colon else ""


def device_refresh_signer() -> signing.Signer:
    """Signs a device's refresh tokens with its id, so that a rotated one is recognised."""
    return signing.Signer(salt="dch_favourites.device-refresh-token")


class DeviceOAuth2Validator(OAuth2Validator):  # type: ignore[misc]
    """django-oauth-toolkit's validator with the original service's devices and sign-in.

    Each installation that takes the ``device`` grant is kept as a
    :class:`~dch_favourites.models.Device`; every other decision is django-oauth-toolkit's.
    """

    def client_authentication_required(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        # A client id with a NUL character names no application, and the toolkit's lookup
        # would raise: psycopg 3 refuses to send one (DataError, not psycopg 2's ValueError).
        if request.grant_type == "password" or "\x00" in (request.client_id or ""):
            return True  # the password grant: credentials or a device token, whatever the type
        return bool(super().client_authentication_required(request, *args, **kwargs))

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """HTTP Basic or body credentials naming the client the body names; for the password
        grant also a device token. A failure counts against the client and the address; while
        either is over its rate the answer is 429, whatever the secret.
        """
        if request.grant_type == "password" and "Authorization" in request.headers:
            token = get_token_from_header(request)
            if token is not None:
                return self.authenticate_device_token(token, request)
        http_request = self.build_http_request(request)
        counted = [SignInThrottle("client_failures", http_request)]
        counted[0].refuse_if_reached(request)
        try:
            authenticated = bool(super().authenticate_client(request, *args, **kwargs))
        except DataError:  # a NUL character in the client id
            authenticated = False
        # The toolkit loads the client whatever the secret, but its body attempt after a failed
        # HTTP Basic one forgets the client Basic named: a failure counts against that client.
        client = request.client
        basic = basic_client_id(request)
        named = basic or request.client_id
        if client is None and named and "\x00" not in named:
            client = get_application_model().objects.filter(client_id=named).first()
        # Only credentials presented count: a protected resource of the toolkit (introspection)
        # asks for the client first, then takes a bearer token instead.
        presented = basic is not None or bool(named or getattr(request, "client_secret", None))
        if client is None:
            if presented:
                # An unknown client costs one hashing too, as Django's ModelBackend does for
                # an unknown user: the answer's time tells no client id.
                make_password("")
        else:
            counted.append(SignInThrottle("client_failures", http_request, client.client_id))
            counted[1].refuse_if_reached(request)
            authenticated = authenticated and request.client_id in (None, "", client.client_id)
        if not authenticated and presented:
            for throttle in counted:
                throttle.allow_request(http_request, None)
        return authenticated

    def authenticate_device_token(self, token: str, request: Any) -> bool:
        """Authenticate the client by a connected device's token that ``validate_bearer_token``
        accepts: ``request.client`` is its application, ``request.dch_device`` its device.
        """
        scopes = request.scopes
        accepted = self.validate_bearer_token(token, [], request)
        request.scopes = scopes  # the token's scopes are not the ones this request asks for
        if not accepted or request.user is not None or request.client is None:
            return False
        if request.client_id and request.client_id != request.client.client_id:
            return False
        device = Device.objects.filter(tokens__access_token=request.access_token).first()
        if device is None or device.disconnected is not None:
            return False
        request.client_id = request.client.client_id
        request.dch_device = device
        return True

    def validate_grant_type(
        self, client_id: Any, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if grant_type == DEVICE_GRANT_TYPE:
            return bool(
                client.client_type == AbstractApplication.CLIENT_CONFIDENTIAL
                and client.allows_grant_type(
                    AbstractApplication.GRANT_PASSWORD, AbstractApplication.GRANT_CLIENT_CREDENTIALS
                )
            )
        return bool(
            super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)
        )

    def build_http_request(self, request: Any) -> Any:
        http_request = super().build_http_request(request)
        request.dch_http_request = http_request  # read back by validate_user
        return http_request

    def validate_user(
        self, username: str, password: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """django-oauth-toolkit's check, answering 429 while django-axes locks it out, with
        its whole cool-off as the wait; a permanent lock stays a plain ``invalid_grant``.
        """
        user_model = get_user_model()
        field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        longest = min(getattr(field, "max_length", None) or 255, 255)  # django-axes stores 255
        if "\x00" in username or len(username) > longest:
            return False  # no user has one; the database would refuse the query
        if super().validate_user(username, password, client, request, *args, **kwargs):
            return True
        http_request = getattr(request, "dch_http_request", None)
        if getattr(http_request, "axes_locked_out", False):
            cool_off: timedelta | None = import_string("axes.helpers.get_cool_off")(http_request)
            if cool_off is not None:  # None: locked for good (no AXES_COOLOFF_TIME)
                seconds = max(1, int(cool_off.total_seconds()))
                raise TooManyAttempts(seconds, request, "invalid_grant", "Too many failed sign-ins")
        return False

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """A listener's refresh token (django-oauth-toolkit's check), or a device's own.

        A device's refresh token presented again after its renewal disconnects the device,
        as the toolkit revokes the family of a listener's reused refresh token.
        """
        if super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            previous = request.refresh_token_instance.access_token_id
            device = Device.objects.filter(tokens__access_token_id=previous).first()
            if device is not None and device.disconnected is not None:
                return False
            request.dch_device = device
            return True
        if getattr(request, "refresh_token_instance", None) is not None:
            return False  # a listener's token, refused by django-oauth-toolkit
        connected = Device.objects.filter(application=client, disconnected__isnull=True)
        device = connected.filter(refresh_token_checksum=checksum(refresh_token)).first()
        if device is None:
            try:
                device_id = device_refresh_signer().unsign(refresh_token).partition(".")[0]
            except signing.BadSignature:
                return False
            replayed = connected.filter(pk=device_id).first()
            if replayed is not None:
                logger.warning("A rotated refresh token of %s came back: disconnected", replayed)
                replayed.disconnect()
            return False
        request.user = None
        request.refresh_token = refresh_token
        request.dch_device = device
        request.dch_device_token = True  # renewed by its device's refresh token
        return True

    def get_original_scopes(
        self, refresh_token: str, request: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if getattr(request, "dch_device_token", False):
            return self.get_default_scopes(request.client_id, request)
        return super().get_original_scopes(refresh_token, request, *args, **kwargs)

    def save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """Save the token as django-oauth-toolkit does, and link it to its device.

        A device token (no user) is saved without a refresh token, which the toolkit's
        ``RefreshToken`` cannot hold without a user: its refresh token, signed with the
        device's id, is kept on the device, and its renewal revokes the device's previous
        device tokens (its listeners' tokens stay).
        """
        device_token = getattr(request, "dch_device_token", False)
        device: Device | None = getattr(request, "dch_device", None)
        tokens = get_access_token_model().objects
        with transaction.atomic(using=router.db_for_write(tokens.model)):
            if device_token:
                token.pop("refresh_token", None)  # oauthlib's, when a device renews its token
                if device is None:
                    device = Device.objects.create(
                        application=request.client, **request.dch_device_fields
                    )
                else:
                    for stale in tokens.filter(dch_device_link__device=device, user__isnull=True):
                        revoke_access_token(stale)
            result = super().save_bearer_token(token, request, *args, **kwargs)
            if device is None:
                return result
            access_token = tokens.get(token_checksum=checksum(token["access_token"]))
            device.tokens.create(access_token=access_token)
            device.last_seen = timezone.now()
            if device_token:
                signed = device_refresh_signer().sign(f"{device.pk}.{generate_token()}")
                token["refresh_token"] = signed
                device.refresh_token_checksum = checksum(signed)
                device.save(update_fields=["refresh_token_checksum", "last_seen"])
            else:
                device.user = request.user
                device.save(update_fields=["user", "last_seen"])
            return result

    def validate_jwt_bearer_token(
        self, token: str, scopes: list[str], request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """A JWT at a protected resource: an access token, else an ID token as the toolkit has it.

        oauthlib's OpenID Connect server sends every bearer token that looks like a JWT here.
        The toolkit's ID token check raises on a JWT it did not issue (malformed, claims of the
        wrong shape, an ``aud`` of an application without a signing algorithm): a refusal.
        """
        if self.validate_bearer_token(token, scopes, request):
            return True
        try:
            return bool(super().validate_jwt_bearer_token(token, scopes, request))
        except (JWException, ValueError, TypeError, ImproperlyConfigured):
            return False
