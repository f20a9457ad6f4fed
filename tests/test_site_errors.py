"""The site's handler400/404/500 from ``dch_favourites.api.errors``.

Under the API's prefix an error raised before the view runs answers in the API's envelope;
everywhere else, and on a site that does not mount the API, Django's own pages answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from endpoints import URL

pytestmark = pytest.mark.django_db

HAL = "application/hal+json; charset=utf-8"

# This module is also the URLconf of a site that has the handlers but not the API.
urlpatterns: list[Any] = []
handler400 = "dch_favourites.api.errors.handler400"
handler404 = "dch_favourites.api.errors.handler404"
handler500 = "dch_favourites.api.errors.handler500"


def crash_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Any:
    """Fails every request before it reaches a view, as a broken middleware would."""

    def middleware(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("middleware failed")

    return middleware


def crashing_site() -> Any:
    return override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, f"{__name__}.crash_middleware"])


def test_an_unknown_path_under_the_api_is_404_in_the_envelope() -> None:
    response = Client().get("/v2/user/favourites/extra/segments")

    assert response.status_code == 404
    assert response["Content-Type"] == HAL
    assert response["Cache-Control"] == "private, no-cache"
    assert json.loads(response.content) == {"error": {"message": "Not found."}}


def test_an_unknown_path_elsewhere_is_djangos_404_page() -> None:
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"<h1>Not Found</h1>" in response.content


def test_a_disallowed_host_outside_the_api_is_djangos_400_page() -> None:
    response = Client().get("/admin/", HTTP_HOST="evil.example.com")

    assert response.status_code == 400
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"<h1>Bad Request (400)</h1>" in response.content


def test_a_crash_before_the_view_under_the_api_is_500_in_the_envelope() -> None:
    with crashing_site():
        response = Client(raise_request_exception=False).get(URL)

    assert response.status_code == 500
    assert response["Content-Type"] == HAL
    assert json.loads(response.content) == {"error": {"message": "Internal server error."}}
    assert b"middleware failed" not in response.content


def test_a_crash_elsewhere_is_djangos_500_page() -> None:
    with crashing_site():
        response = Client(raise_request_exception=False).get("/admin/")

    assert response.status_code == 500
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"<h1>Server Error (500)</h1>" in response.content


@override_settings(ROOT_URLCONF=__name__)
def test_without_the_api_mounted_every_path_gets_djangos_pages() -> None:
    not_found = Client().get(URL)
    with crashing_site():
        crashed = Client(raise_request_exception=False).get(URL)

    assert not_found.status_code == 404
    assert b"<h1>Not Found</h1>" in not_found.content
    assert crashed.status_code == 500
    assert b"<h1>Server Error (500)</h1>" in crashed.content
