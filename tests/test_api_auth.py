"""Authentication, scopes, methods and content negotiation of /v2/user/favourites."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from endpoints import URL
from oauth2_provider.models import AccessToken, Application

from dch_favourites.models import Favourite, FavouriteListState
from factories import AccessTokenFactory, ApplicationFactory, CatalogueItemFactory, UserFactory

pytestmark = pytest.mark.django_db

LEGACY_401 = b'{"message":"A Token was not found in the TokenStorage."}'


def assert_401(response: Any, *, error: str | None = "invalid_token") -> None:
    assert response.status_code == 401
    assert response.content == LEGACY_401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api"')
    if error:
        assert f'error="{error}"' in challenge
        assert "error_description=" in challenge
    else:
        assert challenge == 'Bearer realm="api"'


@pytest.mark.parametrize("method", ["get", "post"])
def test_missing_token_is_401_with_the_legacy_body(db: Any, method: str) -> None:
    response = getattr(Client(), method)(URL)
    assert_401(response, error=None)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "bearer",
        "Bearer a b",
        "Bearer abc, Bearer def",
        "Bearer " + "x" * 600,
        "Bearer t\u00f6ken",
        "Bearer unknown-token",
    ],
)
def test_malformed_or_unknown_tokens_are_401(db: Any, header: str) -> None:
    response = Client().get(URL, HTTP_AUTHORIZATION=header)
    assert_401(response)


def test_expired_token_is_401(make_api: Any) -> None:
    api = make_api(expires=timezone.now() - timedelta(seconds=1))
    assert_401(api.get())


def test_revoked_token_is_401(api: Any) -> None:
    api.token.revoke()
    assert_401(api.get())
    assert not AccessToken.objects.exists()


def test_token_without_user_is_401(make_api: Any) -> None:
    application = ApplicationFactory(authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS)
    token = AccessTokenFactory(user=None, application=application)
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token.token}")
    assert_401(response)


def test_token_of_inactive_user_is_401(api: Any) -> None:
    api.user.is_active = False
    api.user.save()
    assert_401(api.get())


def test_token_of_deleted_application_is_401(api: Any) -> None:
    api.token.application.delete()
    assert_401(api.get())


def test_token_in_query_string_is_not_accepted(api: Any) -> None:
    response = Client().get(f"{URL}?access_token={api.token.token}")
    assert_401(response, error=None)
    assert api.token.token.encode() not in response.content


def test_scheme_is_case_insensitive(api: Any) -> None:
    response = Client().get(URL, HTTP_AUTHORIZATION=f"bearer {api.token.token}")
    assert response.status_code == 200


def test_get_needs_the_read_scope(make_api: Any) -> None:
    api = make_api(scope="write")
    response = api.get()
    assert response.status_code == 403
    assert json.loads(response.content) == {
        "error": {"message": "The access token does not grant the 'read' scope."}
    }
    assert (
        response["WWW-Authenticate"]
        == 'Bearer realm="api", error="insufficient_scope", scope="read"'
    )


def test_post_needs_the_write_scope(make_api: Any) -> None:
    CatalogueItemFactory(id="301")
    api = make_api(scope="read")
    response = api.form(action="add", id="301")
    assert response.status_code == 403
    assert json.loads(response.content) == {
        "error": {"message": "The access token does not grant the 'write' scope."}
    }
    assert not Favourite.objects.exists()
    assert not FavouriteListState.objects.exists()


def test_scope_names_are_django_oauth_toolkits(make_api: Any, settings: Any) -> None:
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "READ_SCOPE": "favourites:read",
        "WRITE_SCOPE": "favourites:write",
    }
    assert make_api(scope="read write").get().status_code == 403
    assert make_api(scope="favourites:read").get().status_code == 200
    assert make_api(scope="favourites:read").form(action="add", id="1").status_code == 403
    both = make_api(scope="favourites:read favourites:write").form(action="add", id="1")
    assert both.status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options", "trace"])
def test_other_methods_are_405_before_authentication(db: Any, method: str) -> None:
    response = getattr(Client(), method)(URL)
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST, HEAD"
    expected = (
        f'No route found for "{method.upper()} /v2/user/favourites": '
        "Method Not Allowed (Allow: GET, POST)"
    )
    assert json.loads(response.content) == {"error": {"message": expected}}


def test_unknown_method_is_405(db: Any) -> None:
    response = Client().generic("BREW", URL)
    assert response.status_code == 405
    assert json.loads(response.content)["error"]["message"].startswith('No route found for "BREW ')


def test_405_with_a_valid_token_too(api: Any) -> None:
    response = api.client.put(URL, **api.headers())
    assert response.status_code == 405
    assert response.content == (
        b'{"error":{"message":"No route found for \\"PUT /v2/user/favourites\\": '
        b'Method Not Allowed (Allow: GET, POST)"}}'
    )


def test_head_is_served_without_a_body(api: Any) -> None:
    response = api.client.head(URL, **api.headers())
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Type"] == "application/hal+json; charset=utf-8"


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "application/hal+json"),
        ("*/*", "application/hal+json"),
        ("application/hal+json", "application/hal+json"),
        ("application/json", "application/json"),
        ("text/json", "text/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("text/html;q=0.9, application/json", "application/json"),
        ("application/xml;q=0.5, text/json;q=0.8", "text/json"),
    ],
)
def test_accepted_media_types(api: Any, accept: str | None, content_type: str) -> None:
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api.get(**extra)
    assert response.status_code == 200
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"
    assert json.loads(response.content) == {"updated": 0, "_links": {"favourites": []}}


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml", "image/png", "application/json;q=0", "text/plain"]
)
def test_other_media_types_are_406(api: Any, accept: str) -> None:
    response = api.get(HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert json.loads(response.content) == {
        "error": {
            "message": "Not acceptable: this endpoint serves application/hal+json, "
            "application/json, text/json."
        }
    }


def test_format_query_parameter_does_not_pick_the_renderer(api: Any) -> None:
    response = api.get(url=f"{URL}?format=json")
    assert response["Content-Type"] == "application/hal+json; charset=utf-8"


@override_settings(
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.BrowsableAPIRenderer"],
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
        "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
        "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
        "PAGE_SIZE": 1,
        "URL_FORMAT_OVERRIDE": "fmt",
        "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"anon": "1/day"},
    }
)
def test_site_rest_framework_defaults_do_not_change_the_contract(api: Any) -> None:
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")
    assert api.form(action="add", id=["301", "302"]).status_code == 200
    response = api.get()
    assert response.status_code == 200
    assert [e["id"] for e in json.loads(response.content)["_links"]["favourites"]] == ["302", "301"]
    assert_401(Client().get(URL), error=None)
    assert Client().put(URL).status_code == 405


def test_cache_headers_on_success_and_errors(api: Any) -> None:
    for response in (api.get(), Client().get(URL), api.get(HTTP_ACCEPT="text/html")):
        assert response["Cache-Control"] == "private, no-cache"
        vary = {v.strip() for v in response["Vary"].split(",")}
        assert {"Authorization", "Accept", "Accept-Language"} <= vary


def test_another_users_token_sees_only_their_own_list(make_api: Any) -> None:
    CatalogueItemFactory(id="301")
    alice, bob = (
        make_api(user=UserFactory(username="alice")),
        make_api(user=UserFactory(username="bob")),
    )
    alice.form(action="add", id="301")
    assert json.loads(bob.get().content)["_links"]["favourites"] == []
    assert [e["id"] for e in json.loads(alice.get().content)["_links"]["favourites"]] == ["301"]
