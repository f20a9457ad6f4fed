"""Bearer tokens, judged by django-oauth-toolkit's ``OAuth2Authentication``: the site's
``OAUTH2_VALIDATOR_CLASS`` decides (expiry, revocation, RFC 8707 resources, introspection).
A refusal's reason goes in the 401's ``WWW-Authenticate`` challenge (RFC 6750)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

#: The reason given when the validator refused a token without saying why.
REFUSED = "The access token is unknown, expired or revoked."


class BearerTokenAuthentication(OAuth2Authentication):  # type: ignore[misc]
    """``Authorization: Bearer <token>``: a django-oauth-toolkit token of an active listener.

    Tokens are read from the header alone, which spares reading every request's body (RFC
    6750 2.2 and 2.3 are optional): no header, no credentials. A token the validator
    refuses, one without a user (an app's device token) unless :attr:`accept_device_tokens`,
    and one of an inactive user are ``invalid_token``.
    """

    #: Whether a token without a user authenticates, as an anonymous user.
    accept_device_tokens = False

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if "HTTP_AUTHORIZATION" not in request.META:
            return None
        found = super().authenticate(request)
        if found is None:
            error = getattr(request, "oauth2_error", None) or {}
            raise AuthenticationFailed(str(error.get("error_description") or REFUSED))
        user, access_token = found
        if user is None:
            if self.accept_device_tokens:
                return AnonymousUser(), access_token
            raise AuthenticationFailed("The access token does not belong to a listener.")
        if not user.is_active:
            raise AuthenticationFailed("The access token does not belong to an active user.")
        return user, access_token


class DeviceTokenAuthentication(BearerTokenAuthentication):
    """Bearer tokens, listeners' and apps' device tokens alike (for public resources)."""

    accept_device_tokens = True
