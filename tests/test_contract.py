"""The GET body against the spec's example, byte for byte."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings

from dch_favourites.models import Favourite, FavouriteListState
from dch_favourites.services import add_favourites

pytestmark = pytest.mark.django_db


@override_settings(DCH_FAVOURITES={"API_BASE_URL": "//tv-dev1.dchdev.net/v2"})
def test_get_body_equals_the_spec_example(api: Any, spec_items: Any, spec_body: Any) -> None:
    # Added oldest first, as the example's order (newest first) implies.
    for record in spec_items:
        add_favourites(api.user, [record["id"]])

    response = api.get()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/hal+json; charset=utf-8"
    body = json.loads(response.content)
    state = FavouriteListState.objects.get(user=api.user)
    # The top-level `updated` is the time of the list's last change (not an item's time):
    # a delete must move it forward too, which an item's timestamp cannot do.
    assert body["updated"] == state.updated
    assert body["_links"] == spec_body["_links"]
    assert list(body) == ["updated", "_links"]
    for ours, theirs in zip(
        body["_links"]["favourites"], spec_body["_links"]["favourites"], strict=True
    ):
        assert list(ours) == list(theirs)
        assert list(ours["date"]) == list(theirs["date"])


@override_settings(DCH_FAVOURITES={"API_BASE_URL": "//tv-dev1.dchdev.net/v2"})
def test_body_bytes_are_compact_utf8_with_literal_image_placeholders(
    api: Any, spec_items: Any
) -> None:
    add_favourites(api.user, ["301"])

    content = api.get().content

    assert "“Guardians of Unity”".encode() in content
    assert b"\\u" not in content
    assert b"/thumbnails/{width}x{height}/images/core/Hueter_Kreis_schwarz_en.jpg" in content
    assert b"%7B" not in content
    assert content.startswith(b'{"updated":')


def test_empty_list_of_a_listener_who_never_had_favourites(api: Any) -> None:
    response = api.get()

    assert response.status_code == 200
    assert response.content == b'{"updated":0,"_links":{"favourites":[]}}'
    assert not Favourite.objects.exists()
