"""``grant_type=device``: the original service's app token, without a user."""

from __future__ import annotations

from typing import Any

from oauthlib.oauth2 import ClientCredentialsGrant  # type: ignore[import-untyped]
from oauthlib.oauth2.rfc6749 import errors  # type: ignore[import-untyped]

from dch_favourites.models.devices import FIELD_LENGTH
from dch_favourites.oauth2.throttling import SignInThrottle, TooManyAttempts

DEVICE_GRANT_TYPE = "device"

#: The installation's description, as the apps send it; each is kept on the Device.
DEVICE_FIELDS = ("app_version", "app_distributor", "device_vendor", "device_model", "affiliate")


class DeviceGrant(ClientCredentialsGrant):  # type: ignore[misc]
    """An app that is not signed in authenticates as its application (``app_id`` and
    ``client_secret``, or HTTP Basic) and describes the installation (:data:`DEVICE_FIELDS`).

    The application must be confidential and allowed the password or client-credentials
    grant; each grant counts against the client and the address (429 over either rate). The
    answer is the client-credentials grant's; the validator keeps the installation as a
    :class:`~dch_favourites.models.Device` and adds its refresh token when it saves the token.
    """

    def validate_token_request(self, request: Any) -> None:
        """Check the parameters, authenticate the client, its grant type and the scopes."""
        for validator in self.custom_validators.pre_token:
            validator(request)
        if request.grant_type != DEVICE_GRANT_TYPE:
            raise errors.UnsupportedGrantTypeError(request=request)
        app_id = getattr(request, "app_id", None)
        if request.client_id and app_id and request.client_id != app_id:
            problem = "Parameters app_id and client_id name different clients."
            raise errors.InvalidRequestError(problem, request=request)
        if app_id:
            request.client_id = app_id
        if not request.client_id and "Authorization" not in request.headers:
            raise errors.InvalidRequestError(
                "Request is missing app_id parameter.", request=request
            )
        request.dch_device_fields = {
            name: getattr(request, name, None) or "" for name in DEVICE_FIELDS
        }
        for name, value in request.dch_device_fields.items():
            if len(value) > FIELD_LENGTH:
                problem = f"is longer than {FIELD_LENGTH} characters"
            elif not value.isprintable():
                problem = "holds a control character"
            else:
                continue
            raise errors.InvalidRequestError(f"Parameter {name} {problem}.", request=request)
        request.user = None
        request.dch_device_token = True  # read by the validator when it saves the token
        self.validate_client_confidential(request)
        self.validate_grant_type(request)
        self.validate_scopes(request)
        http_request = self.request_validator.build_http_request(request)
        counted = [
            SignInThrottle("device_grants", http_request, request.client.client_id),
            SignInThrottle("device_grants", http_request),
        ]
        refusing = [t for t in counted if not t.allow_request(http_request, None)]
        if refusing:
            wait = max(int(throttle.wait() or 1) for throttle in refusing)
            raise TooManyAttempts(wait, request, "invalid_request", "Too many new devices")
        for validator in self.custom_validators.post_token:
            validator(request)
