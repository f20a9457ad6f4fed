"""System checks of the sign-in plug-ins: a JWT generator needs a key.

- ``dch_favourites.E101``: ``ACCESS_TOKEN_GENERATOR`` is
  :func:`~dch_favourites.oauth2.generators.signed_access_token` but
  ``OIDC_RSA_PRIVATE_KEY`` is empty or not an RSA private key: every token request would fail.
- ``dch_favourites.W102``: the same generator without a ``REFRESH_TOKEN_GENERATOR``:
  oauthlib then signs the refresh tokens too, which should stay opaque.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem

from dch_favourites.oauth2.generators import signed_access_token


def signing_key_problem(pem: str) -> str | None:
    """What keeps ``pem`` from signing access tokens, or None."""
    if not pem:
        return "is not set"
    try:
        key = jwk_from_pem(pem)
    except ValueError as error:
        return f"is not a PEM key ({error})"
    if not key.has_private or key.get("kty") != "RSA":
        return "is not an RSA private key"
    return None


@register()
def check_token_signing(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report the JWT generator configured without a usable key, or signing refresh tokens."""
    if oauth2_settings.ACCESS_TOKEN_GENERATOR is not signed_access_token:
        return []
    messages: list[CheckMessage] = []
    problem = signing_key_problem(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
    if problem:
        messages.append(
            Error(
                "ACCESS_TOKEN_GENERATOR signs access tokens, but "
                f"OAUTH2_PROVIDER['OIDC_RSA_PRIVATE_KEY'] {problem}.",
                hint="Set OIDC_RSA_PRIVATE_KEY to a PEM RSA private key, e.g. from "
                "'openssl genrsa 2048', or remove ACCESS_TOKEN_GENERATOR to issue opaque "
                "tokens.",
                id="dch_favourites.E101",
            )
        )
    if oauth2_settings.REFRESH_TOKEN_GENERATOR is None:
        messages.append(
            Warning(
                "ACCESS_TOKEN_GENERATOR signs access tokens and no REFRESH_TOKEN_GENERATOR "
                "is set, so refresh tokens are signed JWTs too.",
                hint="Set OAUTH2_PROVIDER['REFRESH_TOKEN_GENERATOR'] = "
                "'oauthlib.oauth2.rfc6749.tokens.random_token_generator'.",
                id="dch_favourites.W102",
            )
        )
    return messages
