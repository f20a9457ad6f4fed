"""Every unknown path below the API's mount is the JSON 404, whatever DEBUG and handler404 say.

This module is also the URLconf of a site that mounts the API and sets no handlers, the
way ``django-admin startproject`` leaves a site.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import include, path
from endpoints import URL

pytestmark = pytest.mark.django_db

urlpatterns = [path("v2/", include("dch_favourites.api.urls"))]

HAL = "application/hal+json; charset=utf-8"
NOT_FOUND = {"error": {"message": "Not found."}}

bare_debug_site = override_settings(ROOT_URLCONF=__name__, DEBUG=True)


@bare_debug_site
@pytest.mark.parametrize(
    "url",
    [
        "/v2/user/favourites/",
        "/v2/user/favourites//",
        "/v2/user/",
        "/v2/",
        "/v2/film/301/",
        "/v2/film/301/extra",
        "/v2/a/b/c/d/",
        "/v2/user/favourites/%0A",
        "/v2/%E2%9C%93/",
    ],
)
def test_an_unknown_path_is_the_json_404_with_debug_on(
    url: str, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = Client().get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == HAL
    assert response["Cache-Control"] == "private, no-cache"
    assert json.loads(response.content) == NOT_FOUND


@bare_debug_site
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options", "head"])
def test_every_method_gets_the_404_before_the_token_or_body_is_read(method: str) -> None:
    response = Client().generic(
        method.upper(),
        "/v2/user/favourites/",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer no-such-token",
    )

    assert response.status_code == 404
    assert response["Content-Type"] == HAL
    expected = b"" if method == "head" else json.dumps(NOT_FOUND).encode()
    assert response.content.replace(b" ", b"") == expected.replace(b" ", b"")


@bare_debug_site
@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/json", "application/json; charset=utf-8"),
        ("text/json", "text/json; charset=utf-8"),
        ("text/html", HAL),
        ("*/*", HAL),
    ],
)
def test_the_404_comes_in_the_negotiated_json_type(accept: str, content_type: str) -> None:
    response = Client().get("/v2/nothing/here/", HTTP_ACCEPT=accept)

    assert response.status_code == 404
    assert response["Content-Type"] == content_type
    assert json.loads(response.content) == NOT_FOUND


@bare_debug_site
def test_the_404_follows_accept_language() -> None:
    response = Client().get("/v2/user/favourites/", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 404
    assert json.loads(response.content) == {"error": {"message": "Nicht gefunden."}}


@bare_debug_site
def test_the_api_routes_still_answer_before_the_catch_all() -> None:
    favourites = Client().get(URL)
    item = Client().get("/v2/film/99999")

    assert favourites.status_code == 401
    assert json.loads(favourites.content) == {
        "message": "A Token was not found in the TokenStorage."
    }
    assert item.status_code == 404
    assert json.loads(item.content) == {"error": {"message": "No film with id '99999'."}}


@bare_debug_site
def test_paths_outside_the_mount_keep_djangos_debug_page() -> None:
    response = Client().get("/elsewhere/")

    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"Page not found" in response.content
