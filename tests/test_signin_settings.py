"""The example site's sign-in settings: RFC 9700 gates, JWT keys, checks, CORS, the demo."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client, override_settings
from endpoints import URL
from jwcrypto import jwk, jwt
from oauth2_provider.models import AccessToken, Application
from oauth2_provider.settings import DEFAULTS, oauth2_settings

from dch_favourites.checks import check_token_signing
from factories import APP_SECRET, SignInApplicationFactory, UserFactory

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
TOKEN_URL = "/v2/oauth2/token"
GENERATOR = "dch_favourites.oauth2.generators.signed_access_token"
OPAQUE = "oauthlib.oauth2.rfc6749.tokens.random_token_generator"


def provider(**changes: Any) -> dict[str, Any]:
    return {**django_settings.OAUTH2_PROVIDER, **changes}


def password_token(**fields: str) -> Any:
    SignInApplicationFactory(client_id="dch.android")
    UserFactory(username="clara", password="clara-password")
    return Client().post(
        TOKEN_URL,
        {
            "grant_type": "password",
            "username": "clara",
            "password": "clara-password",
            "client_id": "dch.android",
            "client_secret": APP_SECRET,
            **fields,
        },
    )


# -- RFC 9700 gates --------------------------------------------------------------------


def test_every_rfc9700_gate_is_on_but_the_password_grant() -> None:
    gates = {
        name: value
        for name, value in django_settings.OAUTH2_PROVIDER.items()
        if name.startswith("COMPLIANT_BCP_RFC9700_")
    }
    assert set(gates) == {name for name in DEFAULTS if name.startswith("COMPLIANT_BCP_RFC9700_")}
    assert len(gates) == 10
    assert {name for name, on in gates.items() if not on} == {
        "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT"
    }


def test_check_deploy_in_production_shows_only_the_password_grant_warning(tmp_path: Path) -> None:
    key = jwk.JWK.generate(kty="RSA", size=2048).export_to_pem(private_key=True, password=None)
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "x" * 60 + "-production-like-secret-key",
        "DCH_JWT_PRIVATE_KEY": key.decode("ascii"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    toolkit = sorted(set(re.findall(r"\((oauth2_provider\.[WE]\d+)\)", output)))
    signing = sorted(set(re.findall(r"\((dch_favourites\.[WE]1\d\d)\)", output)))
    assert toolkit == ["oauth2_provider.W002"], output
    assert signing == [], output


@pytest.mark.django_db
def test_tokens_in_the_query_string_are_refused() -> None:
    token = password_token().json()["access_token"]
    response = Client().get(f"{URL}?access_token={token}")
    assert response.status_code == 401


# -- JWT access tokens -----------------------------------------------------------------


@pytest.mark.django_db
def test_access_token_is_an_rs256_jwt_verified_by_the_jwks() -> None:
    body = password_token().json()
    keys = Client().get("/v2/oauth2/jwks")
    assert keys.status_code == 200
    max_age = oauth2_settings.OIDC_JWKS_MAX_AGE_SECONDS
    assert keys["Cache-Control"] == (
        f"public, max-age={max_age}, stale-while-revalidate={max_age}, stale-if-error={max_age}"
    )
    key_set = jwk.JWKSet.from_json(keys.content.decode())
    (public,) = key_set["keys"]
    assert not public.has_private
    verified = jwt.JWT(jwt=body["access_token"], key=key_set, algs=["RS256"])
    header = verified.token.jose_header
    assert list(header) == ["typ", "alg", "jti", "kid"]
    assert (header["typ"], header["alg"], header["kid"]) == ("JWT", "RS256", public.thumbprint())
    # The signed bytes as issued: jwcrypto 1.6.2 re-encodes `verified.claims` with sorted keys.
    claims = json.loads(verified.token.payload)
    assert list(claims) == ["aud", "jti", "iat", "nbf", "exp", "sub", "scopes", "iss", "client_id"]
    user = AccessToken.objects.get().user
    assert claims["aud"] == "dch.android"
    assert claims["sub"] == str(user.pk)
    assert claims["jti"] == header["jti"]
    assert claims["iat"] == claims["nbf"]
    assert claims["exp"] - claims["iat"] == oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
    assert claims["scopes"] == ["read", "write"]
    assert claims["iss"] == "http://testserver/oauth2"
    assert claims["client_id"] == "dch.android"
    # The refresh token stays opaque.
    assert body["refresh_token"].count(".") == 0


@pytest.mark.django_db
def test_a_revoked_jwt_is_refused_although_its_signature_holds() -> None:
    token = password_token().json()["access_token"]
    AccessToken.objects.get().revoke()
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_site_can_keep_opaque_access_tokens() -> None:
    opaque = provider()
    del opaque["ACCESS_TOKEN_GENERATOR"]
    with override_settings(OAUTH2_PROVIDER=opaque):
        body = password_token().json()
    assert body["access_token"].count(".") == 0
    assert AccessToken.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", None])
def test_without_a_key_the_jwt_generator_issues_opaque_tokens(key: str | None) -> None:
    # As django-oauth-toolkit issues them without the generator (a site whose OpenID Connect
    # signs ID tokens with HS256 has no RSA key), not a 500; E101 reports the setting.
    with override_settings(OAUTH2_PROVIDER=provider(OIDC_RSA_PRIVATE_KEY=key)):
        response = password_token()
        assert [message.id for message in check_token_signing()] == ["dch_favourites.E101"]
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access_token"].count(".") == 0
    assert body["refresh_token"].count(".") == 0
    assert AccessToken.objects.count() == 1


def test_jwks_without_a_key_is_empty() -> None:
    with override_settings(OAUTH2_PROVIDER=provider(OIDC_RSA_PRIVATE_KEY="")):
        response = Client().get("/v2/oauth2/jwks")
    assert response.json() == {"keys": []}


def test_jwks_other_methods() -> None:
    response = Client().post("/v2/oauth2/jwks")
    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"


def test_check_jwt_generator_without_a_key() -> None:
    with override_settings(OAUTH2_PROVIDER=provider(OIDC_RSA_PRIVATE_KEY="")):
        messages = check_token_signing()
    assert [message.id for message in messages] == ["dch_favourites.E101"]
    assert "OIDC_RSA_PRIVATE_KEY'] is not set" in messages[0].msg


def test_check_jwt_generator_with_a_public_key() -> None:
    public = jwk.JWK.generate(kty="RSA", size=2048).export_to_pem().decode("ascii")
    with override_settings(OAUTH2_PROVIDER=provider(OIDC_RSA_PRIVATE_KEY=public)):
        messages = check_token_signing()
    assert [message.id for message in messages] == ["dch_favourites.E101"]


def test_check_jwt_generator_signing_refresh_tokens() -> None:
    changed = provider()
    del changed["REFRESH_TOKEN_GENERATOR"]
    with override_settings(OAUTH2_PROVIDER=changed):
        messages = check_token_signing()
    assert [message.id for message in messages] == ["dch_favourites.W102"]


def test_check_is_quiet_when_configured_or_opaque() -> None:
    assert check_token_signing() == []
    opaque = provider()
    del opaque["ACCESS_TOKEN_GENERATOR"]
    with override_settings(OAUTH2_PROVIDER=opaque):
        assert check_token_signing() == []


def test_check_is_registered_when_the_app_loads() -> None:
    # In a fresh process: importing this test module registers it anyway.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo_site.settings"}
    code = (
        "import django; django.setup(); from django.core.checks import registry; "
        "print(sorted({f'{c.__module__}.{c.__name__}' for c in registry.registry.get_checks()}))"
    )
    result = subprocess.run(  # noqa: S603  (this interpreter, fixed code)
        [sys.executable, "-c", code],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "dch_favourites.checks.check_token_signing" in result.stdout


# -- CORS ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [URL, TOKEN_URL, "/v2/user"])
@override_settings(CORS_ALLOWED_ORIGINS=["https://www.digitalconcerthall.com"])
def test_preflight_from_an_allowed_origin(url: str) -> None:
    response = Client().options(
        url,
        HTTP_ORIGIN="https://www.digitalconcerthall.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, cache-control",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://www.digitalconcerthall.com"
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = {header.strip() for header in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "cache-control", "accept-language"} <= allowed


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://www.digitalconcerthall.com"])
def test_cors_on_the_actual_request_exposes_the_validators() -> None:
    response = Client().get(URL, HTTP_ORIGIN="https://www.digitalconcerthall.com")
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == "https://www.digitalconcerthall.com"
    assert "ETag" in response["Access-Control-Expose-Headers"]


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://www.digitalconcerthall.com"])
def test_preflight_from_another_origin_gets_no_grant() -> None:
    response = Client().options(
        URL,
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert "Access-Control-Allow-Origin" not in response


def test_allowed_origins_come_from_the_environment() -> None:
    env = {**os.environ, "DCH_CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example,"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import demo_site.settings as s; print(s.CORS_ALLOWED_ORIGINS)",
        ],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "['https://a.example', 'https://b.example']"


# -- the demo --------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_creates_the_key_once_and_the_apps(tmp_path: Path, settings: Any) -> None:
    key_file = tmp_path / "var" / "jwt-signing-key.pem"
    settings.JWT_KEY_FILE = key_file
    call_command("demo", stdout=io.StringIO())
    first = key_file.read_text(encoding="ascii")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert jwk.JWK.from_pem(first.encode()).has_private
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "Signing key created" not in out.getvalue()
    assert key_file.read_text(encoding="ascii") == first
    apps = Application.objects.filter(client_id__in=["dch.android", "dch.webapp"])
    assert {app.client_id for app in apps} == {"dch.android", "dch.webapp"}
    for app in apps:
        assert app.client_type == Application.CLIENT_CONFIDENTIAL
        assert app.authorization_grant_type == Application.GRANT_PASSWORD


def test_the_key_file_is_not_committed() -> None:
    ignored = (EXAMPLE.parent / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "example_project/var/" in ignored


@pytest.mark.django_db
def test_the_readme_createapplication_line_makes_an_app_that_signs_in() -> None:
    call_command(
        "createapplication",
        "confidential",
        "password",
        name="DCH Android",
        client_id="dch.android",
        client_secret="android-secret",
        stdout=io.StringIO(),
    )
    UserFactory(username="clara", password="clara-password")
    device = Client().post(
        TOKEN_URL,
        {"grant_type": "device", "app_id": "dch.android", "client_secret": "android-secret"},
    )
    assert device.status_code == 200
    signed_in = Client().post(
        TOKEN_URL,
        {"grant_type": "password", "username": "clara", "password": "clara-password"},
        HTTP_AUTHORIZATION=f"Bearer {device.json()['access_token']}",
    )
    assert signed_in.status_code == 200
    renewed = Client().post(
        TOKEN_URL,
        {
            "grant_type": "refresh_token",
            "refresh_token": signed_in.json()["refresh_token"],
            "client_id": "dch.android",
            "client_secret": "android-secret",
        },
    )
    assert renewed.status_code == 200
