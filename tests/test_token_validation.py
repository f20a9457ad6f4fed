"""Tokens are judged by django-oauth-toolkit's configured validator, whichever it is.

One table of token cases runs against the toolkit's stock ``OAuth2Validator`` and against
the validator the example site configures (``dch_favourites.oauth2.validators``): the
outcomes must be identical, and the app adds only its own rule on top (a listener's token:
no user or an inactive user is refused).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from endpoints import URL
from oauth2_provider.models import AccessToken, Application
from oauth2_provider.oauth2_validators import OAuth2Validator

from factories import AccessTokenFactory, UserFactory

pytestmark = pytest.mark.django_db

LEGACY_401 = {"message": "A Token was not found in the TokenStorage."}
VALIDATORS = [
    "oauth2_provider.oauth2_validators.OAuth2Validator",
    "dch_favourites.oauth2.validators.DeviceOAuth2Validator",
]


class RefuseEverything(OAuth2Validator):
    """A site's own token policy: no token is good enough."""

    def validate_bearer_token(self, token: Any, scopes: Any, request: Any) -> bool:
        return False


class FakeIntrospection:
    """What an RFC 7662 authorisation server answers for a token it issued."""

    status_code = 200
    reason = "OK"

    def __init__(self, content: dict[str, Any]) -> None:
        self.content = content

    def json(self) -> dict[str, Any]:
        return self.content


def get(token: str, client: Any) -> Any:
    return client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")


def valid() -> str:
    return AccessTokenFactory().token


def expired() -> str:
    return AccessTokenFactory(expires=timezone.now() - timedelta(seconds=1)).token


def revoked() -> str:
    token = AccessTokenFactory()
    raw = token.token
    token.revoke()
    return raw


def of_a_deleted_user() -> str:
    token = AccessTokenFactory()
    token.user.delete()
    return token.token


def of_an_inactive_user() -> str:
    return AccessTokenFactory(user=UserFactory(is_active=False)).token


def without_a_user() -> str:
    return AccessTokenFactory(user=None).token


def without_the_read_scope() -> str:
    return AccessTokenFactory(scope="write").token


def restricted_to_another_resource() -> str:
    return AccessTokenFactory(resource=["https://elsewhere.example/api"]).token


def restricted_to_this_resource() -> str:
    return AccessTokenFactory(resource=["http://testserver/v2/user/favourites"]).token


def of_a_thousand_characters() -> str:
    return AccessTokenFactory(token="t" * 1000).token


def unknown() -> str:
    return "never-issued"


#: case -> (status, WWW-Authenticate error or None)
CASES: dict[str, tuple[Callable[[], str], int, str | None]] = {
    "valid": (valid, 200, None),
    "expired": (expired, 401, "invalid_token"),
    "revoked": (revoked, 401, "invalid_token"),
    "deleted user": (of_a_deleted_user, 401, "invalid_token"),
    "inactive user": (of_an_inactive_user, 401, "invalid_token"),
    "no user": (without_a_user, 401, "invalid_token"),
    "wrong scope": (without_the_read_scope, 403, "insufficient_scope"),
    "resource-restricted elsewhere": (restricted_to_another_resource, 401, "invalid_token"),
    "resource-restricted here": (restricted_to_this_resource, 200, None),
    "1000 characters": (of_a_thousand_characters, 200, None),
    "unknown": (unknown, 401, "invalid_token"),
}


@pytest.fixture(params=VALIDATORS, ids=["stock", "app"])
def validator(request: Any, settings: Any) -> str:
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_VALIDATOR_CLASS": request.param,
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
    }
    return str(request.param)


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_outcome_under_either_validator(validator: str, case: str, client: Any) -> None:
    make, status, error = CASES[case]

    response = get(make(), client)

    assert response.status_code == status, response.content
    if status == 401:
        assert json.loads(response.content) == LEGACY_401
    challenge = response.get("WWW-Authenticate")
    if error is None:
        assert challenge is None
    else:
        assert challenge.startswith(f'Bearer realm="api", error="{error}"')


def test_an_unusable_application_is_refused(
    validator: str, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = valid()
    assert get(token, client).status_code == 200
    monkeypatch.setattr(Application, "is_usable", lambda self, request: False)

    response = get(token, client)

    assert response.status_code == 401
    assert json.loads(response.content) == LEGACY_401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_an_introspected_token_is_accepted(
    validator: str, client: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    UserFactory(username="remote-listener")
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "RESOURCE_SERVER_INTROSPECTION_URL": "https://auth.example/introspect",
        "RESOURCE_SERVER_AUTH_TOKEN": "resource-server-secret",
    }
    asked: list[dict[str, Any]] = []

    def post(url: str, data: Any, headers: Any) -> FakeIntrospection:
        asked.append({"url": url, "data": data, "headers": headers})
        return FakeIntrospection(
            {
                "active": True,
                "scope": "read write",
                "username": "remote-listener",
                "exp": int((timezone.now() + timedelta(hours=1)).timestamp()),
            }
        )

    monkeypatch.setattr("oauth2_provider.oauth2_validators.requests.post", post)

    response = get("issued-by-the-authorisation-server", client)

    assert response.status_code == 200, response.content
    assert asked[0]["url"] == "https://auth.example/introspect"
    assert asked[0]["data"] == {"token": "issued-by-the-authorisation-server"}
    assert AccessToken.objects.filter(user__username="remote-listener").exists()


def test_a_site_validator_that_refuses_every_token_is_obeyed(client: Any, settings: Any) -> None:
    token = valid()
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_VALIDATOR_CLASS": f"{__name__}.RefuseEverything",
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
    }

    response = get(token, client)

    assert response.status_code == 401
    assert json.loads(response.content) == LEGACY_401


SEEN: list[Any] = []


class RecordingValidator(OAuth2Validator):
    """A site's validator that also notes what the toolkit set on the oauthlib request."""

    def validate_bearer_token(self, token: Any, scopes: Any, request: Any) -> bool:
        valid = bool(super().validate_bearer_token(token, scopes, request))
        SEEN.append((valid, request.client, request.user, request.access_token))
        return valid


def test_the_configured_validator_judges_and_sets_the_client_as_the_toolkit_does(
    client: Any, settings: Any
) -> None:
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_VALIDATOR_CLASS": f"{__name__}.RecordingValidator",
    }
    stored = AccessTokenFactory()
    SEEN.clear()

    assert get(stored.token, client).status_code == 200

    [(valid, application, user, access_token)] = SEEN
    assert valid is True
    assert application == stored.application
    assert user == stored.user
    assert access_token == stored
