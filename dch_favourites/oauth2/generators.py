"""Access tokens as the original service issued them: RS256 JWTs (``ACCESS_TOKEN_GENERATOR``).

The original's tokens came from league/oauth2-server: header ``{typ, alg, jti}``, claims
``aud`` (the client id), ``jti``, ``iat``, ``nbf``, ``exp``, ``sub`` (the user id, ``""``
for a device token) and ``scopes``, in that order. Clients decode the claims without
verifying them and act on ``exp``, so ``exp`` follows ``ACCESS_TOKEN_EXPIRE_SECONDS``.

The token is still stored by django-oauth-toolkit and checked against its table on every
request: a revoked token is refused at once although its signature still holds. The key
is django-oauth-toolkit's ``OIDC_RSA_PRIVATE_KEY``; the public half is published by
:class:`~dch_favourites.oauth2.views.JwksView`. Refresh tokens stay opaque: set
``REFRESH_TOKEN_GENERATOR`` to ``"oauthlib.oauth2.rfc6749.tokens.random_token_generator"``,
or oauthlib signs them with this generator too (``dch_favourites.W102`` says so).
"""

from __future__ import annotations

import json
import secrets
import time
from functools import lru_cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from jwcrypto import jwk, jws  # type: ignore[import-untyped]
from oauth2_provider.settings import oauth2_settings

ALGORITHM = "RS256"

#: The dotted path of :func:`signed_access_token`, as ``ACCESS_TOKEN_GENERATOR`` names it.
GENERATOR_PATH = "dch_favourites.oauth2.generators.signed_access_token"


@lru_cache(maxsize=4)
def signing_key(pem: str) -> Any:
    """The JWK of a PEM private key; parsing an RSA key is slow, so it is done once."""
    key = jwk.JWK.from_pem(pem.encode("utf-8"))
    if not key.has_private or key.get("kty") != "RSA":
        raise ValueError("not an RSA private key")
    return key


def current_signing_key() -> Any:
    """The key of ``OIDC_RSA_PRIVATE_KEY``.

    :raises ImproperlyConfigured: no key is set, or it is not an RSA private key.
    """
    pem = oauth2_settings.OIDC_RSA_PRIVATE_KEY
    if not pem:
        raise ImproperlyConfigured("OAUTH2_PROVIDER['OIDC_RSA_PRIVATE_KEY'] is not set.")
    try:
        return signing_key(pem)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"OAUTH2_PROVIDER['OIDC_RSA_PRIVATE_KEY'] is not an RSA private key: {error}"
        ) from error


def token_claims(request: Any, now: int, jti: str) -> dict[str, Any]:
    """The claims of the access token oauthlib is issuing for ``request``, in league's order."""
    user = request.user
    return {
        "aud": request.client.client_id,
        "jti": jti,
        "iat": now,
        "nbf": now,
        "exp": now + int(request.expires_in),
        "sub": "" if user is None else str(user.pk),
        "scopes": list(request.scopes or []),
    }


def signed_access_token(request: Any) -> str:
    """An RS256 JWT for the token oauthlib is issuing (``request`` is oauthlib's)."""
    key = current_signing_key()
    jti = secrets.token_hex(40)
    header = {"typ": "JWT", "alg": ALGORITHM, "jti": jti}
    claims = token_claims(request, int(time.time()), jti)
    token = jws.JWS(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    token.add_signature(key, alg=None, protected=json.dumps(header, separators=(",", ":")))
    return str(token.serialize(compact=True))
