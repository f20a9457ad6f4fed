"""oauthlib's all-grants server with the ``device`` grant added (``OAUTH2_SERVER_CLASS``)."""

from __future__ import annotations

from typing import Any

from oauthlib.oauth2 import Server  # type: ignore[import-untyped]
from oauthlib.oauth2.rfc6749.endpoints.token import TokenEndpoint  # type: ignore[import-untyped]

from dch_favourites.oauth2.grants import DEVICE_GRANT_TYPE, DeviceGrant


class DeviceServer(Server):  # type: ignore[misc]
    """:class:`oauthlib.oauth2.Server` whose token endpoint also serves ``grant_type=device``.

    Every other grant is oauthlib's own, configured as django-oauth-toolkit configures it.
    """

    def __init__(self, request_validator: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, *args, **kwargs)
        self.device_grant = DeviceGrant(request_validator)
        TokenEndpoint.__init__(
            self,
            default_grant_type=self.default_grant_type,
            default_token_type=self.bearer,
            grant_types={**self.grant_types, DEVICE_GRANT_TYPE: self.device_grant},
        )
