"""Access tokens a standard consumer verifies: PyJWT's ``PyJWKClient`` on the live key set.

The header names the signing key (``kid``, as ``/v2/oauth2/jwks`` lists it); the claims end
with ``iss`` (django-oauth-toolkit's issuer) and ``client_id``, after league's claims, which
the original apps read. A key rotation keeps the tokens of the old key verifiable while it
is published among ``OIDC_RSA_PRIVATE_KEYS_INACTIVE``.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from django.test import Client, override_settings
from django.urls import include, path
from endpoints import URL
from jwcrypto import jwk
from oauth2_provider.settings import oauth2_settings
from test_signin_settings import password_token

pytestmark = pytest.mark.django_db

TOKEN_URL = "/v2/oauth2/token"
JWKS_URL = "/v2/oauth2/jwks"
ISSUER = "http://testserver/oauth2"  # the example site mounts the toolkit's URLs at /oauth2/

#: A site that mounts only the API: the toolkit's issuer cannot be derived (test below).
urlpatterns = [path("v2/", include("dch_favourites.api.urls"))]


def new_key() -> str:
    key = jwk.JWK.generate(kty="RSA", size=2048)
    return str(key.export_to_pem(private_key=True, password=None).decode("ascii"))


def kid_of(pem: str) -> str:
    return str(jwk.JWK.from_pem(pem.encode("ascii")).thumbprint())


def sign_in() -> str:
    """An access token of the listener clara from the password grant of ``dch.android``."""
    response = password_token()
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


def decode(token: str, client: jwt.PyJWKClient) -> dict[str, Any]:
    """The claims, verified as a consumer does: key by kid, RS256, audience, issuer, expiry."""
    key = client.get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience="dch.android",
        issuer=ISSUER,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )
    return claims


@pytest.mark.live
def test_pyjwkclient_verifies_a_token_against_the_live_key_set(
    live_server: Any, settings: Any
) -> None:
    token = sign_in()
    client = jwt.PyJWKClient(f"{live_server.url}{JWKS_URL}")
    claims = decode(token, client)
    assert list(claims) == ["aud", "jti", "iat", "nbf", "exp", "sub", "scopes", "iss", "client_id"]
    assert (claims["iss"], claims["client_id"]) == (ISSUER, "dch.android")
    header = jwt.get_unverified_header(token)
    assert header["kid"] == kid_of(settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"])
    # A token signed by another key with the same kid is refused.
    forged = jwt.encode(
        claims, new_key(), algorithm="RS256", headers={"kid": header["kid"], "jti": "x"}
    )
    with pytest.raises(jwt.InvalidSignatureError):
        decode(forged, client)


@pytest.mark.live
def test_a_token_of_the_rotated_out_key_still_verifies(live_server: Any, settings: Any) -> None:
    old_key = settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]
    old_token = sign_in()
    client = jwt.PyJWKClient(f"{live_server.url}{JWKS_URL}")
    assert decode(old_token, client)["sub"]  # the client now holds the old key set

    rotated = new_key()
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": rotated,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [old_key],
    }
    published = Client().get(JWKS_URL).json()["keys"]
    assert [key["kid"] for key in published] == [kid_of(rotated), kid_of(old_key)]

    new_token = sign_in()  # the same listener and app, signing in again
    assert jwt.get_unverified_header(new_token)["kid"] == kid_of(rotated)
    assert jwt.get_unverified_header(old_token)["kid"] == kid_of(old_key)
    # A consumer that fetches the key set now verifies both; one holding the old set
    # still verifies the old key's tokens (and refetches for the new kid after its cooldown).
    fresh = jwt.PyJWKClient(f"{live_server.url}{JWKS_URL}")
    assert decode(new_token, fresh)["sub"] == decode(old_token, fresh)["sub"]
    assert decode(old_token, client)["sub"] == decode(new_token, fresh)["sub"]
    # Both tokens still open the favourites: they are the toolkit's stored tokens.
    for token in (old_token, new_token):
        response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200

    # Once the old key is no longer published, its tokens cannot be verified.
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEYS_INACTIVE": []}
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        jwt.PyJWKClient(f"{live_server.url}{JWKS_URL}").get_signing_key_from_jwt(old_token)


def test_the_issuer_is_oidc_iss_endpoint_where_set(settings: Any) -> None:
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ISS_ENDPOINT": "https://accounts.example.com",
    }
    token = sign_in()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "https://accounts.example.com"


@override_settings(ROOT_URLCONF=__name__)
def test_without_the_toolkits_urls_the_token_has_no_issuer() -> None:
    token = sign_in()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert list(claims) == ["aud", "jti", "iat", "nbf", "exp", "sub", "scopes", "client_id"]


@pytest.mark.parametrize("oidc_enabled", [False, True])
def test_the_key_set_with_oidc_on_and_off(settings: Any, oidc_enabled: bool) -> None:
    inactive = new_key()
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ENABLED": oidc_enabled,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [inactive],
    }
    response = Client().get(JWKS_URL)
    assert response.status_code == 200
    max_age = oauth2_settings.OIDC_JWKS_MAX_AGE_SECONDS
    assert response["Cache-Control"] == (
        f"public, max-age={max_age}, stale-while-revalidate={max_age}, stale-if-error={max_age}"
    )
    assert response["Access-Control-Allow-Origin"] == "*"
    keys = response.json()["keys"]
    active = settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]
    assert [key["kid"] for key in keys] == [kid_of(active), kid_of(inactive)]
    for key in keys:
        assert set(key) == {"alg", "use", "kid", "kty", "e", "n"}
        assert (key["alg"], key["use"], key["kty"]) == ("RS256", "sig", "RSA")
    assert Client().head(JWKS_URL).status_code == 200
    options = Client().options(JWKS_URL)
    assert options.status_code == 200
    assert options["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_key_set_refuses_other_methods_in_json(method: str) -> None:
    response = getattr(Client(), method)(JWKS_URL)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert json.loads(response.content) == {
        "error": "invalid_request",
        "error_description": f"The key set accepts GET, not {method.upper()}.",
    }
