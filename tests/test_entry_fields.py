"""An entry field is declared once: the serializer field drives column, body, format and schema.

Adding a field to the favourites entries touches the model (if the value is new) and the
entry layout's serializer, nothing else: here a layout gains ``concert`` (the item's own
``concert_id``) and the list reads that column, every entry of the layout carries it, the
document's format (and so every ETag) changes, the item resource shows it and the
OpenAPI schema documents it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework import serializers

from dch_favourites.api.serializers import (
    ENTRY_LAYOUTS,
    ITEM_LAYOUTS,
    EventEntrySerializer,
    ItemLinksSerializer,
    entry_plan,
)
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, ConcertFactory, WorkFactory

pytestmark = pytest.mark.django_db


class WithConcert(EventEntrySerializer):
    """The event layout and one more field: the concert a work or interview belongs to."""

    concert = serializers.CharField(source="concert_id", allow_null=True)


class WithConcertItem(WithConcert):
    """Its item resource, as :class:`EventItemSerializer` extends the event layout."""

    _links = ItemLinksSerializer(source="*")
    favourited = serializers.BooleanField(required=False)


@pytest.fixture
def concert_field(monkeypatch: pytest.MonkeyPatch) -> None:
    for item_type, layout in list(ENTRY_LAYOUTS.items()):
        if layout is EventEntrySerializer:
            monkeypatch.setitem(ENTRY_LAYOUTS, item_type, WithConcert)
    monkeypatch.setitem(ITEM_LAYOUTS, WithConcert, WithConcertItem)


def test_a_declared_field_is_read_served_and_changes_the_format(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ConcertFactory(id="900")
    WorkFactory(id="900-1")
    CatalogueItemFactory(id="301")
    add_favourites(api.user, ["900", "900-1", "301"])
    before_plan, before = entry_plan(), api.get()
    for item_type, layout in list(ENTRY_LAYOUTS.items()):
        if layout is EventEntrySerializer:
            monkeypatch.setitem(ENTRY_LAYOUTS, item_type, WithConcert)

    plan, after = entry_plan(), api.get()

    assert "concert_id" in plan.columns
    assert "concert_id" not in before_plan.columns
    assert plan.format != before_plan.format
    assert after["ETag"] != before["ETag"]
    entries = json.loads(after.content)["_links"]["favourites"]
    by_id = {entry["id"]: entry for entry in entries}
    assert list(by_id["900-1"])[-1] == "concert"
    assert by_id["900-1"]["concert"] == "900"
    assert by_id["900"]["concert"] is None
    assert "concert" not in by_id["301"]  # a film keeps its own layout
    for entry in entries:  # the plan gives what DRF's declared fields give
        layout = ENTRY_LAYOUTS[entry["type"]]
        assert layout is WithConcert or "concert" not in entry
    assert list(json.loads(before.content)["_links"]["favourites"][1]) == [
        key for key in by_id["900-1"] if key != "concert"
    ]


@pytest.mark.usefixtures("concert_field")
def test_the_item_resource_and_the_schema_show_the_declared_field(api: Any, client: Any) -> None:
    ConcertFactory(id="900")
    WorkFactory(id="900-1")

    item = json.loads(api.get("/v2/work/900-1").content)
    schema = json.loads(client.get("/v2/schema/openapi.json").content)

    assert item["concert"] == "900"
    assert list(item)[-3:] == ["concert", "_links", "favourited"]
    components = schema["components"]["schemas"]
    assert components["WithConcert"]["properties"]["concert"] == {
        "type": "string",
        "nullable": True,
    }


@pytest.mark.parametrize("extended", [False, True], ids=["as shipped", "with a field added"])
def test_the_fast_entries_are_drf_s_own_output_for_every_layout(
    extended: bool, request: pytest.FixtureRequest
) -> None:
    """The plan builds what DRF's declared fields build, value for value, key for key."""
    if extended:
        request.getfixturevalue("concert_field")
    plan = entry_plan()
    values = {
        "id": "23427-1",
        "title": "Title",
        "short_title": "",
        "is_free": 1,
        "published": 1472720400,
        "begin": None,
        "overview_image": "//img/{width}x{height}/a.jpg",
        "detail_image": None,
        "updated": 1475074300,
        "concert_id": "23427",
    }
    for item_type, layout in ENTRY_LAYOUTS.items():
        row = tuple({**values, "type": item_type}[column] for column in plan.columns)
        fast = plan.entries([row], "//api/v2")
        by_drf = layout(plan.row_mapping(row), context={"base_url": "//api/v2"}).data
        assert json.dumps(fast[0]) == json.dumps(by_drf), item_type
        assert ("concert" in fast[0]) is (extended and layout is WithConcert)
