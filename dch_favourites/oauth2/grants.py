"""``grant_type=device``: the original service's app token, without a user.

An app that is not signed in asks for one with its credentials and a description of the
installation::

    grant_type=device&app_id=dch.android&client_secret=...&affiliate=none
    &app_version=1.95.0&app_distributor=berlinphil&device_vendor=unknown&device_model=unknown

and gets ``access_token``, ``token_type``, ``expires_in``, ``scope`` and ``refresh_token``.
The validator (:class:`~dch_favourites.oauth2.validators.DeviceOAuth2Validator`) keeps the
installation as a :class:`~dch_favourites.models.Device` when it saves the token.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from oauthlib.oauth2.rfc6749 import errors  # type: ignore[import-untyped]
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase  # type: ignore[import-untyped]

from dch_favourites.oauth2.throttling import DEVICE_GRANTS, SignInThrottle, refuse

log = logging.getLogger(__name__)

DEVICE_GRANT_TYPE = "device"

#: The installation's description, as the apps send it; each is kept on the Device.
DEVICE_FIELDS = ("app_version", "app_distributor", "device_vendor", "device_model", "affiliate")

#: Longest value kept for each of :data:`DEVICE_FIELDS`.
DEVICE_FIELD_MAX_LENGTH = 100

#: The headers of every token response (RFC 6749 §5.1).
TOKEN_RESPONSE_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def device_field_values(request: Any) -> dict[str, str]:
    """The :data:`DEVICE_FIELDS` of a token request, ``""`` for those not sent.

    :raises errors.InvalidRequestError: a value is too long or holds a control character.
    """
    values: dict[str, str] = {}
    for name in DEVICE_FIELDS:
        value = getattr(request, name, None) or ""
        if len(value) > DEVICE_FIELD_MAX_LENGTH:
            raise errors.InvalidRequestError(
                description=f"Parameter {name} is longer than {DEVICE_FIELD_MAX_LENGTH} "
                "characters.",
                request=request,
            )
        if not value.isprintable():
            raise errors.InvalidRequestError(
                description=f"Parameter {name} holds a control character.", request=request
            )
        values[name] = value
    return values


class DeviceGrant(GrantTypeBase):  # type: ignore[misc]
    """The ``device`` grant: the client authenticates with ``app_id`` and ``client_secret``.

    HTTP Basic works too. Each device grant counts against the client and the address
    (``DEVICE_GRANTS`` in :mod:`dch_favourites.oauth2.throttling`): over either rate, 429.
    The application must be confidential and allow the password or the client-credentials
    grant (see
    :meth:`~dch_favourites.oauth2.validators.DeviceOAuth2Validator.validate_grant_type`).
    """

    refresh_token = True

    def create_token_response(
        self, request: Any, token_handler: Any
    ) -> tuple[dict[str, str], str, int]:
        """A token with a refresh token, or an RFC 6749 §5.2 error."""
        headers = dict(TOKEN_RESPONSE_HEADERS)
        try:
            self.validate_token_request(request)
        except errors.OAuth2Error as error:
            log.debug("Refused device token request: %s", error.error)
            headers.update(error.headers)
            return headers, error.json, error.status_code
        token = token_handler.create_token(request, refresh_token=self.refresh_token)
        self.request_validator.save_token(token, request)
        return headers, json.dumps(token), 200

    def validate_token_request(self, request: Any) -> None:
        """Check the parameters, authenticate the client, its grant type and the scopes."""
        for validator in self.custom_validators.pre_token:
            validator(request)
        if request.grant_type != DEVICE_GRANT_TYPE:
            raise errors.UnsupportedGrantTypeError(request=request)
        app_id = getattr(request, "app_id", None)
        if request.client_id and app_id and request.client_id != app_id:
            raise errors.InvalidRequestError(
                description="Parameters app_id and client_id name different clients.",
                request=request,
            )
        if app_id:
            request.client_id = app_id
        if not request.client_id and "Authorization" not in request.headers:
            raise errors.InvalidRequestError(
                description="Request is missing app_id parameter.", request=request
            )
        request.dch_device_fields = device_field_values(request)
        request.user = None
        self.validate_client_confidential(request)
        self.validate_grant_type(request)
        self.validate_scopes(request)
        http_request = self.request_validator.build_http_request(request)
        counted = [
            SignInThrottle(DEVICE_GRANTS[0], http_request, request.client.client_id),
            SignInThrottle(DEVICE_GRANTS[1], http_request),
        ]
        refusing = [t for t in counted if not t.allow_request(http_request, None)]
        refuse(request, refusing, "invalid_request", "Too many new devices")
        for validator in self.custom_validators.post_token:
            validator(request)
