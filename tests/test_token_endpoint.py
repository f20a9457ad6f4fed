"""The token endpoint under the API's mount: every answer JSON (RFC 6749 §5.1, §5.2).

Unknown grant, bad client, bad password, a wrong method, a body too large, an unexpected
error and the database being down (503 with ``Retry-After``): JSON, never HTML.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
from django.db import connection
from django.test import Client
from oauth2_provider.models import AccessToken, RefreshToken
from threaded_server import connection_factory, server_database, serving

from factories import APP_SECRET, SignInApplicationFactory, UserFactory

pytestmark = pytest.mark.usefixtures("oidc")

TOKEN_URL = "/v2/oauth2/token"
NO_STORE = {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}


def headers_of(response: Any) -> dict[str, str]:
    return {name: response.headers.get(name) for name in NO_STORE}


@pytest.fixture
def app(db: Any) -> Any:
    return SignInApplicationFactory(client_id="dch.android")


@pytest.fixture
def clara(db: Any) -> Any:
    return UserFactory(username="clara", password="clara-password")


def password_grant(client: Client, **fields: str) -> Any:
    data = {
        "grant_type": "password",
        "username": "clara",
        "password": "clara-password",
        "client_id": "dch.android",
        "client_secret": APP_SECRET,
        **fields,
    }
    return client.post(TOKEN_URL, data)


@pytest.mark.django_db
@pytest.mark.parametrize("url", [TOKEN_URL, "/oauth2/token"])
def test_password_grant_with_body_credentials(url: str, app: Any, clara: Any) -> None:
    response = Client().post(
        url,
        "grant_type=password&username=clara&password=clara-password"
        f"&client_id=dch.android&client_secret={APP_SECRET}",
        content_type="application/x-www-form-urlencoded;charset=UTF-8",
    )
    assert response.status_code == 200
    assert headers_of(response) == NO_STORE
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "refresh_token"}
    assert body["scope"] == "read write"
    stored = AccessToken.objects.get(user=clara)
    # RFC 9700 token storage is on: only the checksum is kept at rest.
    assert stored.token == ""
    assert RefreshToken.objects.get(user=clara).token == ""


@pytest.mark.django_db
def test_password_grant_with_http_basic(app: Any, clara: Any) -> None:
    import base64

    basic = base64.b64encode(f"dch.android:{APP_SECRET}".encode()).decode()
    response = Client().post(
        TOKEN_URL,
        {"grant_type": "password", "username": "clara", "password": "clara-password"},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 200
    assert AccessToken.objects.filter(user=clara).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "status", "body"),
    [
        ({"grant_type": "magic"}, 400, {"error": "unsupported_grant_type"}),
        ({"grant_type": ""}, 400, {"error": "unsupported_grant_type"}),
        ({"client_secret": "wrong"}, 401, {"error": "invalid_client"}),
        ({"client_id": "nobody"}, 401, {"error": "invalid_client"}),
        ({"client_id": "a\x00b"}, 401, {"error": "invalid_client"}),
        (
            {"password": "wrong"},
            400,
            {"error": "invalid_grant", "error_description": "Invalid credentials given."},
        ),
        (
            {"username": "nobody\x00"},
            400,
            {"error": "invalid_grant", "error_description": "Invalid credentials given."},
        ),
        (
            {"password": ""},
            400,
            {
                "error": "invalid_request",
                "error_description": "Request is missing password parameter.",
            },
        ),
        ({"scope": "admin"}, 400, {"error": "invalid_scope"}),
        (
            {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
            400,
            {
                "error": "invalid_request",
                "error_description": "Request is missing device_code parameter.",
            },
        ),
    ],
)
def test_refusals_are_rfc6749_json(
    app: Any, clara: Any, fields: dict[str, str], status: int, body: dict[str, str]
) -> None:
    response = password_grant(Client(), **fields)
    assert response.status_code == status
    assert headers_of(response) == NO_STORE
    assert response.json() == body
    assert not AccessToken.objects.exists()


@pytest.mark.django_db
def test_no_body_at_all(app: Any) -> None:
    response = Client().post(TOKEN_URL, "", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert headers_of(response) == NO_STORE
    assert response.json() == {"error": "unsupported_grant_type"}


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_are_405_json(method: str) -> None:
    response = getattr(Client(), method)(TOKEN_URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert headers_of(response) == NO_STORE
    assert response.json() == {
        "error": "invalid_request",
        "error_description": f"The token endpoint accepts POST, not {method.upper()}.",
    }


@pytest.mark.django_db
def test_body_too_large_is_413_json(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = Client().post(
        TOKEN_URL,
        "grant_type=password&x=" + "a" * 200,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "The request body is too large.",
    }


@pytest.mark.django_db
def test_too_many_fields_is_400_json(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    response = Client().post(
        TOKEN_URL,
        "a=1&b=2&c=3&d=4&grant_type=password",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.django_db
def test_unexpected_error_is_500_json_and_logged(
    app: Any, clara: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with mock.patch(
        "dch_favourites.oauth2.validators.DeviceOAuth2Validator.validate_user",
        side_effect=RuntimeError("boom"),
    ):
        response = password_grant(Client())
    assert response.status_code == 500
    assert response.json() == {
        "error": "server_error",
        "error_description": "Internal server error.",
    }
    assert "boom" not in response.content.decode()
    assert "Unhandled error at the token endpoint" in caplog.text


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Switchable:
    """Connections to the live database, or, while ``down``, to one that cannot be reached."""

    def __init__(self, live: Any, dead: Any) -> None:
        self.live, self.dead, self.down = live, dead, False

    def __call__(self) -> Any:
        return (self.dead if self.down else self.live)()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Switchable]:
    with server_database(tmp_path) as factory:
        live = factory or connection_factory()
        if connection.vendor == "sqlite":
            dead = connection_factory(NAME=str(tmp_path / "gone" / "server.sqlite3"))
        else:
            dead = connection_factory(HOST="127.0.0.1", PORT=str(closed_port()))
        yield Switchable(live, dead)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_database_down_is_503_json_with_retry_after(database: Switchable) -> None:
    SignInApplicationFactory(client_id="dch.android")
    UserFactory(username="clara", password="clara-password")
    data = {
        "grant_type": "password",
        "username": "clara",
        "password": "clara-password",
        "client_id": "dch.android",
        "client_secret": APP_SECRET,
    }
    with serving(database) as base:
        database.down = True
        down = requests.post(base + TOKEN_URL, data=data, timeout=30)
        database.down = False
        up = requests.post(base + TOKEN_URL, data=data, timeout=30)

    assert down.status_code == 503
    assert down.headers["Retry-After"] == "5"
    assert down.headers["Content-Type"] == "application/json"
    assert json.loads(down.content) == {
        "error": "temporarily_unavailable",
        "error_description": "The service is temporarily unavailable.",
    }
    assert up.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [
        {
            "HTTP_AUTHORIZATION": "Basic "
            + __import__("base64").b64encode(b"a\x00b:secret").decode()
        },
        {},
    ],
)
def test_nul_in_client_credentials_is_invalid_client(app: Any, clara: Any, extra: Any) -> None:
    data = {"grant_type": "password", "username": "clara", "password": "clara-password"}
    if not extra:
        data["client_id"] = "dch\x00android"  # no secret: the public-client path
    response = Client().post(TOKEN_URL, data, **extra)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
