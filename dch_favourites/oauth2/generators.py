"""Access tokens as the original service issued them: RS256 JWTs (``ACCESS_TOKEN_GENERATOR``).

The original's tokens came from league/oauth2-server: header ``{typ, alg, jti}``, claims
``aud`` (the client id), ``jti``, ``iat``, ``nbf``, ``exp``, ``sub`` (the user id, ``""``
for a device token) and ``scopes``, in that order. Clients decode the claims without
verifying them and act on ``exp``, so ``exp`` follows ``ACCESS_TOKEN_EXPIRE_SECONDS``.
After those, for consumers that verify tokens: the header's ``kid`` names the signing key
as ``/v2/oauth2/jwks`` lists it, and the claims ``iss`` (django-oauth-toolkit's issuer, as
in its ID tokens; left out where the toolkit cannot name one) and ``client_id`` (RFC 9068)
follow league's.

The token is still stored by django-oauth-toolkit and checked against its table on every
request: a revoked token is refused at once although its signature still holds. The key
is django-oauth-toolkit's ``OIDC_RSA_PRIVATE_KEY``. Refresh tokens stay opaque: set
``REFRESH_TOKEN_GENERATOR`` to ``"oauthlib.oauth2.rfc6749.tokens.random_token_generator"``,
or oauthlib signs them with this generator too (``dch_favourites.W102`` says so).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from django.urls import NoReverseMatch
from jwcrypto import jws  # type: ignore[import-untyped]
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem


def token_issuer(request: Any) -> str | None:
    """The issuer the configured validator names in ID tokens (``OIDC_ISS_ENDPOINT`` if set).

    None when it cannot say: no ``OIDC_ISS_ENDPOINT`` and the toolkit's URLs not mounted.
    """
    try:
        return str(oauth2_settings.OAUTH2_VALIDATOR_CLASS().get_oidc_issuer_endpoint(request))
    except NoReverseMatch:
        return None


def token_claims(request: Any, now: int, jti: str) -> dict[str, Any]:
    """The claims of the access token oauthlib is issuing for ``request``: league's, then ours."""
    user = request.user
    client_id = request.client.client_id
    claims = {
        "aud": client_id,
        "jti": jti,
        "iat": now,
        "nbf": now,
        "exp": now + int(request.expires_in),
        "sub": "" if user is None else str(user.pk),
        "scopes": list(request.scopes or []),
    }
    issuer = token_issuer(request)
    if issuer is not None:
        claims["iss"] = issuer
    claims["client_id"] = client_id
    return claims


def signed_access_token(request: Any) -> str:
    """An RS256 JWT for the token oauthlib is issuing (``request`` is oauthlib's)."""
    key = jwk_from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
    jti = secrets.token_hex(40)
    # kid as the toolkit's JWKS and ID tokens name the key: its RFC 7638 thumbprint.
    header = {"typ": "JWT", "alg": "RS256", "jti": jti, "kid": key.thumbprint()}
    claims = token_claims(request, int(time.time()), jti)
    token = jws.JWS(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    token.add_signature(key, alg=None, protected=json.dumps(header, separators=(",", ":")))
    return str(token.serialize(compact=True))
