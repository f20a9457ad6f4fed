"""OpenID Connect beside the original apps' sign-in: every OIDC flow of the toolkit works.

With ``OIDC_ENABLED`` and the plug-ins (``DeviceServer``, ``DeviceOAuth2Validator``,
``signed_access_token``) the toolkit's OpenID Connect server issues ID tokens in the code,
hybrid and implicit flows, answers userinfo and logs out; the JWT access tokens it issues
open the favourites, and the original apps' device grant still works.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from endpoints import URL
from jwcrypto import jwk, jwt
from oauth2_provider.models import AccessToken, Application, IDToken

from factories import APP_SECRET, SignInApplicationFactory, UserFactory

pytestmark = pytest.mark.django_db

REDIRECT_URI = "https://rp.example/callback"
ISSUER = "http://testserver/oauth2"
VERIFIER = "a-code-verifier-of-at-least-43-characters-0123456789"
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)


@pytest.fixture(autouse=True)
def oidc_site(settings: Any) -> None:
    """The example site's sign-in with OpenID Connect on, RP-initiated logout included."""
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ENABLED": True,
        "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
        "SCOPES": {**settings.OAUTH2_PROVIDER["SCOPES"], "openid": "Sign in"},
    }


@pytest.fixture
def browser(db: Any) -> Client:
    """A browser whose user is signed in to the site."""
    client = Client()
    client.force_login(UserFactory(username="clara", first_name="Clara"))
    return client


def relying_party(grant_type: str) -> Application:
    return SignInApplicationFactory(
        client_id="rp",
        authorization_grant_type=grant_type,
        redirect_uris=REDIRECT_URI,
        post_logout_redirect_uris=REDIRECT_URI,
        algorithm=Application.RS256_ALGORITHM,
    )


def authorize(browser: Client, response_type: str, **extra: str) -> dict[str, str]:
    """Allow the authorization request; the parameters of the redirect (query or fragment)."""
    response = browser.post(
        "/oauth2/authorize/",
        {
            "client_id": "rp",
            "response_type": response_type,
            "scope": "openid read",
            "redirect_uri": REDIRECT_URI,
            "state": "the-state",
            "nonce": "the-nonce",
            "allow": True,
            **extra,
        },
    )
    assert response.status_code == 302, response.content
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    params = parse_qs(location.fragment or location.query)
    assert "error" not in params, params
    return {name: values[0] for name, values in params.items()}


def redeem(code: str) -> dict[str, Any]:
    """The code exchanged at the app's token endpoint, with the PKCE verifier."""
    response = Client().post(
        "/v2/oauth2/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
            "client_id": "rp",
            "client_secret": APP_SECRET,
        },
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def verified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT verified by the key set the app publishes."""
    key_set = jwk.JWKSet.from_json(Client().get("/v2/oauth2/jwks").content.decode())
    checked = jwt.JWT(jwt=token, key=key_set, algs=["RS256"])
    return dict(checked.token.jose_header), json.loads(checked.claims)


def opens_the_favourites(access_token: str) -> bool:
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return bool(response.status_code == 200)


def test_code_flow_issues_an_id_token_and_a_jwt_access_token(browser: Client) -> None:
    relying_party(Application.GRANT_AUTHORIZATION_CODE)
    params = authorize(browser, "code", code_challenge=CHALLENGE, code_challenge_method="S256")
    assert (params["state"], params["iss"]) == ("the-state", ISSUER)
    body = redeem(params["code"])
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "id_token",
    }
    id_header, id_claims = verified(body["id_token"])
    access_header, access_claims = verified(body["access_token"])
    assert id_header["kid"] == access_header["kid"]
    user = IDToken.objects.get().user
    assert (id_claims["iss"], id_claims["aud"], id_claims["sub"]) == (ISSUER, "rp", str(user.pk))
    assert id_claims["nonce"] == "the-nonce"
    assert "at_hash" in id_claims
    assert (access_claims["iss"], access_claims["client_id"]) == (ISSUER, "rp")
    assert access_claims["sub"] == str(user.pk)
    assert opens_the_favourites(body["access_token"])
    discovery = Client().get("/oauth2/.well-known/openid-configuration").json()
    assert discovery["issuer"] == ISSUER


def test_userinfo_with_the_jwt_access_token(browser: Client) -> None:
    relying_party(Application.GRANT_AUTHORIZATION_CODE)
    params = authorize(browser, "code", code_challenge=CHALLENGE, code_challenge_method="S256")
    access_token = redeem(params["code"])["access_token"]
    response = Client().get("/oauth2/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert response.status_code == 200
    assert response.json() == {"sub": str(AccessToken.objects.get().user.pk)}


def test_refresh_in_the_code_flow_issues_a_new_id_token(browser: Client) -> None:
    relying_party(Application.GRANT_AUTHORIZATION_CODE)
    params = authorize(browser, "code", code_challenge=CHALLENGE, code_challenge_method="S256")
    body = redeem(params["code"])
    renewed = Client().post(
        "/v2/oauth2/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": "rp",
            "client_secret": APP_SECRET,
        },
    )
    assert renewed.status_code == 200, renewed.content
    assert verified(renewed.json()["id_token"])[1]["aud"] == "rp"
    assert opens_the_favourites(renewed.json()["access_token"])
    assert not opens_the_favourites(body["access_token"])


def test_hybrid_flow(browser: Client) -> None:
    relying_party(Application.GRANT_OPENID_HYBRID)
    params = authorize(
        browser, "code id_token", code_challenge=CHALLENGE, code_challenge_method="S256"
    )
    claims = verified(params["id_token"])[1]
    assert (claims["aud"], claims["nonce"]) == ("rp", "the-nonce")
    assert "c_hash" in claims
    body = redeem(params["code"])
    assert verified(body["id_token"])[1]["sub"] == claims["sub"]
    assert opens_the_favourites(body["access_token"])


def test_oidc_implicit_flow_where_the_site_allows_it(browser: Client, settings: Any) -> None:
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": False,
    }
    relying_party(Application.GRANT_IMPLICIT)
    with pytest.warns(DeprecationWarning, match="implicit grant"):
        params = authorize(browser, "id_token token")
    claims = verified(params["id_token"])[1]
    assert (claims["aud"], claims["nonce"]) == ("rp", "the-nonce")
    assert "at_hash" in claims
    assert verified(params["access_token"])[1]["client_id"] == "rp"
    assert opens_the_favourites(params["access_token"])


def test_logout_with_the_id_token_hint(browser: Client) -> None:
    relying_party(Application.GRANT_AUTHORIZATION_CODE)
    params = authorize(browser, "code", code_challenge=CHALLENGE, code_challenge_method="S256")
    body = redeem(params["code"])
    hint = {"id_token_hint": body["id_token"], "post_logout_redirect_uri": REDIRECT_URI}
    prompt = browser.get("/oauth2/logout/", hint)
    assert prompt.status_code == 200
    response = browser.post("/oauth2/logout/", {**hint, "allow": True})
    assert response.status_code == 302
    assert response["Location"] == REDIRECT_URI
    assert "_auth_user_id" not in browser.session
    # The toolkit deletes the tokens of the session's application on logout.
    assert not opens_the_favourites(body["access_token"])


def test_an_id_token_opens_a_resource_as_the_toolkit_allows(browser: Client) -> None:
    relying_party(Application.GRANT_AUTHORIZATION_CODE)
    params = authorize(browser, "code", code_challenge=CHALLENGE, code_challenge_method="S256")
    id_token = redeem(params["code"])["id_token"]
    response = Client().get("/v2/user", HTTP_AUTHORIZATION=f"Bearer {id_token}")
    assert response.status_code == 200, response.content


def test_the_device_grant_and_sign_in_under_the_oidc_server() -> None:
    SignInApplicationFactory(client_id="dch.android")
    UserFactory(username="listener", password="listener-password")
    device = Client().post(
        "/v2/oauth2/token",
        {"grant_type": "device", "app_id": "dch.android", "client_secret": APP_SECRET},
    )
    assert device.status_code == 200, device.content
    assert "id_token" not in device.json()
    signed_in = Client().post(
        "/v2/oauth2/token",
        {"grant_type": "password", "username": "listener", "password": "listener-password"},
        HTTP_AUTHORIZATION=f"Bearer {device.json()['access_token']}",
    )
    assert signed_in.status_code == 200, signed_in.content
    assert opens_the_favourites(signed_in.json()["access_token"])


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJycCJ9.x",  # not base64url
        "eyJhbGciOiJSUzI1NiJ9.eyJ.eA",
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.eA",  # a payload that is not JSON
        "eyJhbGciOiJSUzI1NiJ9.MQ.eA",  # 1
        "eyJhbGciOiJSUzI1NiJ9.WyJhdWQiXQ.eA",  # ["aud"]
        "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOjF9.eA",  # {"aud": 1}
        "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJkY2guYW5kcm9pZCJ9.eA",  # an app without an algorithm
        "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJycCJ9.eA",  # an app that signs, a bad signature
    ],
)
def test_a_jwt_nobody_issued_is_a_401(token: str) -> None:
    SignInApplicationFactory(client_id="dch.android")
    relying_party(Application.GRANT_AUTHORIZATION_CODE)
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json() == {"message": "A Token was not found in the TokenStorage."}


def test_a_revoked_jwt_access_token_is_a_401_under_the_oidc_server() -> None:
    SignInApplicationFactory(client_id="dch.android")
    UserFactory(username="listener", password="listener-password")
    token = (
        Client()
        .post(
            "/v2/oauth2/token",
            {
                "grant_type": "password",
                "username": "listener",
                "password": "listener-password",
                "client_id": "dch.android",
                "client_secret": APP_SECRET,
            },
        )
        .json()["access_token"]
    )
    assert opens_the_favourites(token)
    AccessToken.objects.get().revoke()
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
