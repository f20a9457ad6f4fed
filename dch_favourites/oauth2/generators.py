"""Access tokens as the original service issued them: RS256 JWTs (``ACCESS_TOKEN_GENERATOR``).

The claims are league/oauth2-server's, in its order, then ``iss`` and ``client_id`` (RFC
9068) for consumers that verify tokens; the header's ``kid`` names the key by its RFC 7638
thumbprint, as ``/v2/oauth2/jwks`` lists it. The original apps decode the claims without
verifying them and act on ``exp``. The token is still stored by django-oauth-toolkit and
checked on every request, so a revoked token is refused at once although its signature
holds. The key is the toolkit's ``OIDC_RSA_PRIVATE_KEY``; refresh tokens stay opaque only
with a ``REFRESH_TOKEN_GENERATOR`` (``dch_favourites.W102``). Without a key the token is
oauthlib's opaque one, as the toolkit issues without this generator
(``dch_favourites.E101`` reports the setting).
"""

from __future__ import annotations

import json
import secrets
import time
from contextlib import suppress
from typing import Any

from django.urls import NoReverseMatch
from jwcrypto import jws  # type: ignore[import-untyped]
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem
from oauthlib.oauth2.rfc6749.tokens import random_token_generator  # type: ignore[import-untyped]


def signed_access_token(request: Any) -> str:
    """An RS256 JWT for the token oauthlib is issuing (``request`` is oauthlib's); without
    ``OIDC_RSA_PRIVATE_KEY``, oauthlib's opaque token."""
    if not oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        # The toolkit runs without an RSA key (OpenID Connect with HS256 ID tokens only): the
        # token it would issue without this generator, rather than a 500 for every sign-in.
        return str(random_token_generator(request))
    key = jwk_from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
    jti, now = secrets.token_hex(40), int(time.time())
    client_id = request.client.client_id
    header = {"typ": "JWT", "alg": "RS256", "jti": jti, "kid": key.thumbprint()}
    claims = {
        "aud": client_id,
        "jti": jti,
        "iat": now,
        "nbf": now,
        "exp": now + int(request.expires_in),
        "sub": "" if request.user is None else str(request.user.pk),  # "" for a device token
        "scopes": list(request.scopes or []),
    }
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    with suppress(NoReverseMatch):  # no OIDC_ISS_ENDPOINT, and the toolkit's URLs not mounted
        claims["iss"] = str(validator.get_oidc_issuer_endpoint(request))  # as in ID tokens
    claims["client_id"] = client_id
    token = jws.JWS(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    token.add_signature(key, alg=None, protected=json.dumps(header, separators=(",", ":")))
    return str(token.serialize(compact=True))
