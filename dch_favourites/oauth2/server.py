"""The server django-oauth-toolkit would build, with the ``device`` grant added."""

from __future__ import annotations

from typing import Any

from oauth2_provider.settings import oauth2_settings, perform_import
from oauthlib.oauth2 import Server  # type: ignore[import-untyped]

from dch_favourites.oauth2.grants import DEVICE_GRANT_TYPE, DeviceGrant


def DeviceServer(request_validator: Any, *args: Any, **kwargs: Any) -> Any:
    """The toolkit's choice of oauthlib server whose token endpoint also serves ``device``.

    Set as ``OAUTH2_SERVER_CLASS``: the toolkit calls it as the class it names. With
    ``OIDC_ENABLED`` that is the toolkit's OpenID Connect server (``OIDC_SERVER_CLASS``), so
    ID tokens, userinfo and logout keep working beside the original apps' sign-in.
    """
    if oauth2_settings.OIDC_ENABLED:
        server_class = perform_import(oauth2_settings.OIDC_SERVER_CLASS, "OIDC_SERVER_CLASS")
    else:
        server_class = Server
    server = server_class(request_validator, *args, **kwargs)
    server.grant_types[DEVICE_GRANT_TYPE] = DeviceGrant(request_validator)
    return server
