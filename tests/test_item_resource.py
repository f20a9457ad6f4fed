"""``GET <API_BASE_URL>/<type>/<id>``: the resource every favourites ``href`` points to."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client, override_settings
from oauth2_provider.models import Application

from dch_favourites.api.errors import LEGACY_401_MESSAGE
from dch_favourites.models import CatalogueItem, Favourite
from dch_favourites.services import add_favourites, remove_favourites
from factories import (
    AccessTokenFactory,
    ApplicationFactory,
    CatalogueItemFactory,
    ConcertFactory,
    TranslationFactory,
    WorkFactory,
    ts,
)

pytestmark = pytest.mark.django_db

BASE = "//tv-dev1.dchdev.net/v2"
THUMBNAILS = "//www-dev1.dchdev.net/cms/thumbnails/{width}x{height}/images/core/"
NO_THROTTLE = {"WRITE_THROTTLE_RATE": None}
PRIVATE = {**NO_THROTTLE, "ITEM_ENDPOINT_PUBLIC": False}

WORK = {
    "href": "//testserver/v2/work/23427-1",
    "updated": 1475074300,
    "id": "23427-1",
    "title": "[Éclat] (1st Version for 15 instruments from 1965)",
    "short_title": None,
    "is_free": False,
    "date": {"published": 1472720400, "begin": 1472229000},
    "image": {
        "overview": THUMBNAILS + "BPhil_SSR_260816_040_DCH.jpg",
        "detail": THUMBNAILS + "BPhil_SSR_260816_040_DCH.jpg",
    },
    "type": "work",
    "_links": {"self": {"href": "//testserver/v2/work/23427-1"}},
}


def follow(client_get: Any, href: str, **headers: str) -> Any:
    """GET a protocol-relative href the way a client does: its host and its path."""
    parts = urlsplit("http:" + href if href.startswith("//") else href)
    return client_get(parts.path, HTTP_HOST=parts.netloc, **headers)


def envelope(response: Any) -> Any:
    return json.loads(response.content)


def test_public_item_without_a_token(spec_items: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        response = Client().get("/v2/work/23427-1")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/hal+json; charset=utf-8"
    assert response["Content-Language"] == "en"
    vary = [value.strip() for value in response["Vary"].split(",")]
    assert {"Accept", "Accept-Language", "Authorization"} <= set(vary)
    assert json.loads(response.content) == WORK
    assert list(json.loads(response.content)) == list(WORK)
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"] == "Wed, 28 Sep 2016 14:51:40 GMT"


def test_the_film_keeps_its_entry_layout(spec_items: Any) -> None:
    response = Client().get("/v2/film/301")

    assert response.status_code == 200
    assert json.loads(response.content) == {
        "href": "//testserver/v2/film/301",
        "updated": 1464622718,
        "id": "301",
        "title": "“Guardians of Unity”: Conductors in conversation",
        "is_free": False,
        "date": {"published": 1463558400},
        "image": {
            "overview": THUMBNAILS + "Hueter_Kreis_schwarz_en.jpg",
            "detail": THUMBNAILS + "dirigentenfilm_dch.jpg",
        },
        "type": "film",
        "_links": {"self": {"href": "//testserver/v2/film/301"}},
    }
    assert b"{width}x{height}" in response.content
    assert b"%7B" not in response.content


def test_a_part_takes_its_concerts_begin() -> None:
    ConcertFactory(id="50", begin=ts(1500000000))
    WorkFactory(id="50-1", begin=ts(1400000000))

    body = json.loads(Client().get("/v2/work/50-1").content)

    assert body["date"]["begin"] == 1500000000


@pytest.mark.parametrize("base", [None, BASE, "https://api.digitalconcerthall.com/v2"])
@pytest.mark.parametrize("language", ["en", "de"])
def test_every_href_of_the_favourites_body_resolves(
    api: Any, spec_items: Any, base: str | None, language: str
) -> None:
    TranslationFactory(item_id="23427-1", language="de", title="[Éclat] (1. Fassung)")
    for record in spec_items:
        add_favourites(api.user, [record["id"]])
    with override_settings(
        DCH_FAVOURITES={**NO_THROTTLE, "API_BASE_URL": base},
        ALLOWED_HOSTS=["testserver", "tv-dev1.dchdev.net", "api.digitalconcerthall.com"],
    ):
        body = json.loads(api.get(HTTP_ACCEPT_LANGUAGE=language).content)
        entries = body["_links"]["favourites"]
        assert len(entries) == 3
        for entry in entries:
            response = follow(
                api.client.get, entry["href"], **api.headers({"HTTP_ACCEPT_LANGUAGE": language})
            )

            assert response.status_code == 200, entry["href"]
            assert response["Content-Language"] == language
            resource = json.loads(response.content)
            assert resource["_links"] == {"self": {"href": entry["href"]}}
            assert resource["favourited"] is True
            assert {k: v for k, v in resource.items() if k not in {"_links", "favourited"}} == entry
            assert list(resource) == [*entry, "_links", "favourited"]
    assert entries[0]["title"] == (
        "[Éclat] (1. Fassung)" if language == "de" else spec_items[2]["title"]
    )


def test_hrefs_of_every_type_resolve(api: Any) -> None:
    ConcertFactory(id="23427", title="Concert", short_title="C")
    WorkFactory(id="23427-1")
    CatalogueItemFactory(id="23427-3", type="interview", begin=ts(1472229000))
    CatalogueItemFactory(id="301", type="film")
    CatalogueItemFactory(id="pl_7", type="playlist", title="Playlist")
    ids = ["23427", "23427-1", "23427-3", "301", "pl_7"]
    add_favourites(api.user, ids)

    entries = envelope(api.get())["_links"]["favourites"]

    assert sorted(entry["type"] for entry in entries) == [
        "concert",
        "film",
        "interview",
        "playlist",
        "work",
    ]
    for entry in entries:
        resource = envelope(follow(api.client.get, entry["href"], **api.headers()))
        assert resource == {
            **entry,
            "_links": {"self": {"href": entry["href"]}},
            "favourited": True,
        }


def test_favourited_for_a_listener_costs_no_extra_query(
    api: Any, spec_items: Any, django_assert_num_queries: Any
) -> None:
    add_favourites(api.user, ["301"])

    # One query checks the token; one reads the item with its favourited flag.
    with django_assert_num_queries(2):
        listed = api.get("/v2/film/301")
    with django_assert_num_queries(2):
        unlisted = api.get("/v2/work/23427-1")

    assert listed.status_code == unlisted.status_code == 200
    assert envelope(listed)["favourited"] is True
    assert envelope(unlisted)["favourited"] is False
    assert list(envelope(listed))[-2:] == ["_links", "favourited"]


def test_favourited_is_about_the_requesting_listener(make_api: Any, spec_items: Any) -> None:
    alice, bob = make_api(), make_api()
    add_favourites(alice.user, ["301"])

    assert envelope(alice.get("/v2/film/301"))["favourited"] is True
    assert envelope(bob.get("/v2/film/301"))["favourited"] is False
    assert envelope(Client().get("/v2/film/301")).get("favourited", "absent") == "absent"


def test_the_etag_follows_language_and_favourited(api: Any, spec_items: Any) -> None:
    TranslationFactory(item_id="301", language="de", title="„Hüter der Einheit“")
    english = api.get("/v2/film/301")
    german = api.get("/v2/film/301", HTTP_ACCEPT_LANGUAGE="de")
    assert english["ETag"] != german["ETag"]
    assert envelope(german)["title"] == "„Hüter der Einheit“"
    assert german["Content-Language"] == "de"

    cached = api.get("/v2/film/301", HTTP_IF_NONE_MATCH=english["ETag"])
    assert cached.status_code == 304
    assert cached.content == b""

    add_favourites(api.user, ["301"])
    stale = api.get("/v2/film/301", HTTP_IF_NONE_MATCH=english["ETag"])
    assert stale.status_code == 200
    assert envelope(stale)["favourited"] is True
    assert stale["ETag"] != english["ETag"]

    remove_favourites(api.user, ["301"])
    assert api.get("/v2/film/301", HTTP_IF_NONE_MATCH=english["ETag"]).status_code == 304


def test_the_etag_changes_when_the_item_changes(spec_items: Any) -> None:
    client = Client()
    before = client.get("/v2/film/301")
    item = CatalogueItem.objects.get(pk="301")
    item.title = "Guardians of Unity (restored)"
    item.save()

    after = client.get("/v2/film/301", HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert envelope(after)["title"] == "Guardians of Unity (restored)"
    assert envelope(after)["updated"] > 1464622718


def test_head_answers_the_headers_without_a_body(spec_items: Any) -> None:
    get = Client().get("/v2/film/301")
    head = Client().head("/v2/film/301")

    assert head.status_code == 200
    assert head.content == b""
    assert head["ETag"] == get["ETag"]
    assert head["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/json", "application/json"),
        ("text/json", "text/json"),
        ("*/*", "application/hal+json"),
    ],
)
def test_the_same_media_types_as_the_favourites(
    spec_items: Any, accept: str, content_type: str
) -> None:
    response = Client().get("/v2/film/301", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"
    assert envelope(response)["id"] == "301"


def test_an_unacceptable_media_type_is_406_in_the_envelope(spec_items: Any) -> None:
    response = Client().get("/v2/film/301", HTTP_ACCEPT="text/html")

    assert response.status_code == 406
    assert envelope(response) == {
        "error": {
            "message": "Not acceptable: this endpoint serves application/hal+json, "
            "application/json, text/json."
        }
    }


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v2/film/99999", "No film with id '99999'."),
        ("/v2/film/23427-1", "No film with id '23427-1'."),
        ("/v2/work/301", "No work with id '301'."),
        ("/v2/concert/23427-1", "No concert with id '23427-1'."),
        ("/v2/work/%00", "No work with id '\ufffd'."),
        ("/v2/work/a%20b", "No work with id 'a b'."),
        ("/v2/work/" + "1" * 65, "No work with id '" + "1" * 64 + "\u2026'."),
        (
            "/v2/movie/301",
            "Unknown catalogue type 'movie': use one of concert, work, interview, film, playlist.",
        ),
        (
            "/v2/Film/301",
            "Unknown catalogue type 'Film': use one of concert, work, interview, film, playlist.",
        ),
        (
            "/v2/user/23427",
            "Unknown catalogue type 'user': use one of concert, work, interview, film, playlist.",
        ),
    ],
)
def test_unknown_or_mistyped_ids_are_404_in_the_envelope(
    spec_items: Any, path: str, message: str
) -> None:
    response = Client().get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/hal+json; charset=utf-8"
    assert envelope(response) == {"error": {"message": message}}


def test_a_malformed_id_is_refused_without_a_query(
    spec_items: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/v2/work/%00%01")

    assert response.status_code == 404


def test_a_404_with_a_token_is_the_same_envelope(api: Any, spec_items: Any) -> None:
    response = api.get("/v2/film/23427-1")

    assert response.status_code == 404
    assert envelope(response) == {"error": {"message": "No film with id '23427-1'."}}


def test_other_methods_are_405(api: Any, spec_items: Any) -> None:
    response = api.post({"action": "add"}, url="/v2/film/301")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert envelope(response) == {
        "error": {
            "message": 'No route found for "POST /v2/film/301": Method Not Allowed (Allow: GET)'
        }
    }
    assert not Favourite.objects.exists()


def test_a_bad_token_on_the_public_resource_is_still_refused(spec_items: Any) -> None:
    response = Client().get("/v2/film/301", HTTP_AUTHORIZATION="Bearer not-a-known-token")

    assert response.status_code == 401
    assert envelope(response) == {"message": LEGACY_401_MESSAGE}


def test_an_apps_device_token_reads_the_item_without_favourited(spec_items: Any) -> None:
    application = ApplicationFactory(authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS)
    device = AccessTokenFactory(user=None, application=application, token="device-token-0123456789")

    response = Client().get("/v2/work/23427-1", HTTP_AUTHORIZATION=f"Bearer {device.token}")

    assert response.status_code == 200
    assert envelope(response) == WORK


@override_settings(DCH_FAVOURITES=PRIVATE)
def test_a_protected_resource_needs_a_token(spec_items: Any) -> None:
    response = Client().get("/v2/film/301")

    assert response.status_code == 401
    assert envelope(response) == {"message": LEGACY_401_MESSAGE}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@override_settings(DCH_FAVOURITES=PRIVATE)
def test_a_protected_resource_with_a_token(api: Any, spec_items: Any) -> None:
    response = api.get("/v2/work/23427-1")

    assert response.status_code == 200
    assert envelope(response) == {**WORK, "favourited": False}


@override_settings(DCH_FAVOURITES=PRIVATE)
def test_a_protected_resource_needs_the_read_scope(make_api: Any, spec_items: Any) -> None:
    writer = make_api(scope="write")

    response = writer.get("/v2/film/301")

    assert response.status_code == 403
    assert envelope(response) == {
        "error": {"message": "The access token does not grant the 'read' scope."}
    }


@override_settings(DCH_FAVOURITES=PRIVATE)
def test_a_protected_unknown_item_asks_for_the_token_first(spec_items: Any) -> None:
    response = Client().get("/v2/film/99999")

    assert response.status_code == 401
    assert envelope(response) == {"message": LEGACY_401_MESSAGE}
