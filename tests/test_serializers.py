"""The serializers: declared fields that say what the fast read path builds, and the change.

The read side builds its bodies in one loop for speed; these tests hold that loop to the
fields the serializers declare (and drf-spectacular documents): the same keys, in the same
order, per type, and the same body as DRF's own field-by-field path. The change
serializer is tested on form and JSON input with its exact messages; ``remove`` is a
synonym of ``delete``, and a JSON body sent as a form gets a hint about ``Content-Type``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from django.http import QueryDict
from django.test import override_settings
from rest_framework import serializers

from dch_favourites.api.serializers import (
    ENTRY_LAYOUTS,
    ITEM_LAYOUTS,
    CatalogueItemSerializer,
    FavouriteChange,
    FavouriteChangeSerializer,
    FavouritesDocument,
    FavouritesSerializer,
    entry_plan,
)
from dch_favourites.models import Favourite, FavouriteListState, ItemType
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory

BASE = "//api.example.com/v2"
HINT = (
    "Missing parameter 'action': use add or delete. The body looks like JSON: "
    "send it with Content-Type: application/json."
)
MISSING_ACTION = "Missing parameter 'action': use add or delete."


def row(item_type: str, **values: Any) -> tuple[Any, ...]:
    """An entry row in the columns of the entry plan."""
    columns = {
        "id": "23427-1" if item_type in ("work", "interview") else "301",
        "type": item_type,
        "title": "Title",
        "short_title": "",
        "is_free": True,
        "published": 1472720400,
        "begin": 1472229000,
        "overview_image": "//img.example.com/{width}x{height}/a.jpg",
        "detail_image": "",
        "updated": 1475074300,
        **values,
    }
    assert sorted(columns) == sorted(entry_plan().columns)
    return tuple(columns[name] for name in entry_plan().columns)


def entry(values: tuple[Any, ...], base_url: str) -> dict[str, Any]:
    return entry_plan().entries([values], base_url)[0]


def item(values: tuple[Any, ...], **extra: Any) -> Any:
    mapping = {**entry_plan().row_mapping(values), **extra}
    return CatalogueItemSerializer(mapping, context={"base_url": BASE}).data


def declared(serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
    """The declared fields as a tree of keys: nested serializers as dicts, fields as None."""
    tree: dict[str, Any] = {}
    for name, field in serializer_class().fields.items():
        tree[name] = declared(type(field)) if isinstance(field, serializers.Serializer) else None
    return tree


def keys(data: dict[str, Any]) -> dict[str, Any]:
    """The keys of a body as a tree, in order: objects as dicts, values as None."""
    return {key: keys(value) if isinstance(value, dict) else None for key, value in data.items()}


# The read side


def test_every_type_has_a_layout() -> None:
    assert sorted(ENTRY_LAYOUTS) == sorted(ItemType.values)


@pytest.mark.parametrize("item_type", ItemType.values)
def test_an_entry_has_exactly_the_declared_keys_in_order(item_type: str) -> None:
    built = entry(row(item_type), BASE)

    # Dict equality ignores order; the JSON texts do not.
    assert json.dumps(keys(built)) == json.dumps(declared(ENTRY_LAYOUTS[item_type]))
    assert built["href"] == f"{BASE}/{item_type}/{built['id']}"


@pytest.mark.parametrize("item_type", ItemType.values)
@pytest.mark.parametrize("favourited", [True, False])
def test_an_item_has_exactly_the_declared_keys_in_order(item_type: str, favourited: bool) -> None:
    data = item(row(item_type), favourited=favourited)

    assert json.dumps(keys(data)) == json.dumps(declared(ITEM_LAYOUTS[ENTRY_LAYOUTS[item_type]]))
    assert data["_links"] == {"self": {"href": data["href"]}}
    assert data["favourited"] is favourited


def test_an_item_read_without_a_token_has_no_favourited_key() -> None:
    data = item(row("film"))

    assert "favourited" not in data
    assert list(data)[-1] == "_links"


def test_the_fast_body_is_the_body_of_the_declared_fields() -> None:
    rows = [
        row("work", short_title="Éclat", detail_image="//img.example.com/d.jpg"),
        row("interview", is_free=False, begin=None, overview_image=""),
        row("film"),
        row("playlist", id="p-1"),
        row("concert", id="23427"),
    ]
    document = FavouritesDocument(updated=1475074300, rows=rows)
    serializer = FavouritesSerializer(document, context={"base_url": BASE})

    fast = serializer.data
    by_fields = [
        ENTRY_LAYOUTS[values[1]](entry_plan().row_mapping(values), context={"base_url": BASE}).data
        for values in rows
    ]

    assert orjson.dumps(fast["_links"]["favourites"]) == orjson.dumps(by_fields)
    assert fast["updated"] == 1475074300
    assert [item["type"] for item in fast["_links"]["favourites"]] == [
        "work",
        "interview",
        "film",
        "playlist",
        "concert",
    ]
    assert fast["_links"]["favourites"][1]["short_title"] is None
    assert fast["_links"]["favourites"][1]["image"] == {"overview": None, "detail": None}


def test_an_empty_list() -> None:
    document = FavouritesDocument(updated=0, rows=[])

    assert FavouritesSerializer(document, context={"base_url": BASE}).data == {
        "updated": 0,
        "_links": {"favourites": []},
    }


# The change


def validated(data: Any) -> FavouriteChange | str:
    """The change, or the one message a refused body raises."""
    serializer = FavouriteChangeSerializer(data=data)
    if serializer.is_valid():
        change = serializer.validated_data
        assert isinstance(change, FavouriteChange)
        return change
    with pytest.raises(serializers.ValidationError) as raised:
        serializer.is_valid(raise_exception=True)
    detail = raised.value.detail
    assert isinstance(detail, list)
    assert len(detail) == 1
    return str(detail[0])


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("action=add&id=301", FavouriteChange("add", ("301",))),
        ("action=delete&id=301&id=23427-1", FavouriteChange("delete", ("301", "23427-1"))),
        ("action=remove&id=301", FavouriteChange("delete", ("301",))),
        ("action=remove&id=302&id=301&id=302", FavouriteChange("delete", ("302", "301"))),
        ("id=301", MISSING_ACTION),
        ("action=&id=301", "Parameter 'action' is blank: use add or delete."),
        ("action=%20&id=301", "Parameter 'action' is blank: use add or delete."),
        ("action=add&action=add&id=301", "Parameter 'action' must be given once."),
        ("action=remove&action=delete&id=301", "Parameter 'action' must be given once."),
        ("action=Remove&id=301", "Unknown action 'Remove': use add or delete."),
        ("action=drop&id=301", "Unknown action 'drop': use add or delete."),
        (
            "action=" + "x" * 50 + "&id=301",
            f"Unknown action '{'x' * 40}\u2026': use add or delete.",
        ),
        ("action=add", "Missing parameter 'id'."),
        ("action=add&id=", "Parameter 'id' is blank."),
        ("action=add&id=301&id=%20", "Parameter 'id' is blank."),
        (
            "action=add&id=%20301",
            "Invalid id ' 301': an id is 1 to 64 letters, digits, '-' or '_'.",
        ),
        (
            "action=add&id=301&id=film/301&id=",
            "Invalid id 'film/301': an id is 1 to 64 letters, digits, '-' or '_'.",
        ),
        # The action is judged first, whatever is wrong with the ids.
        ("action=drop&id=", "Unknown action 'drop': use add or delete."),
    ],
)
def test_a_form(form: str, expected: FavouriteChange | str) -> None:
    assert validated(QueryDict(form)) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"action": "add", "id": "301"}, FavouriteChange("add", ("301",))),
        ({"action": "remove", "id": ["301", 302]}, FavouriteChange("delete", ("301", "302"))),
        ({"action": "delete", "id": 0}, FavouriteChange("delete", ("0",))),
        ({"action": "add", "id": "301", "note": "ignored"}, FavouriteChange("add", ("301",))),
        ({}, MISSING_ACTION),
        ({"action": None, "id": "301"}, MISSING_ACTION),
        ({"id": "301"}, MISSING_ACTION),
        ({"action": ["add"], "id": "301"}, "Parameter 'action' must be a string: add or delete."),
        ({"action": 1, "id": "301"}, "Parameter 'action' must be a string: add or delete."),
        ({"action": "add", "id": None}, "Missing parameter 'id'."),
        ({"action": "add", "id": []}, "Missing parameter 'id'."),
        ({"action": "add", "id": -1}, "Parameter 'id' number 1 must be a string."),
        ({"action": "add", "id": ["301", 3.0]}, "Parameter 'id' number 2 must be a string."),
        ({"action": "add", "id": ["301", None]}, "Parameter 'id' number 2 must be a string."),
        ({"action": "add", "id": [False]}, "Parameter 'id' number 1 must be a string."),
        ({"action": "add", "id": {"id": "301"}}, "Parameter 'id' number 1 must be a string."),
        (
            {"action": "add", "id": "7" * 65},
            f"Invalid id '{'7' * 40}\u2026': an id is 1 to 64 letters, digits, '-' or '_'.",
        ),
        (None, "The request body must be an object with 'action' and 'id'."),
        (["add", "301"], "The request body must be an object with 'action' and 'id'."),
        ("action=add&id=301", "The request body must be an object with 'action' and 'id'."),
        (301, "The request body must be an object with 'action' and 'id'."),
    ],
)
def test_a_json_body(body: Any, expected: FavouriteChange | str) -> None:
    assert validated(body) == expected


def test_the_id_limit_is_read_when_validating() -> None:
    three = {"action": "delete", "id": ["301", "302", "303"]}

    with override_settings(DCH_FAVOURITES={"MAX_IDS_PER_REQUEST": 2}):
        assert validated(three) == "Too many ids: at most 2 per request."
    assert validated(three) == FavouriteChange("delete", ("301", "302", "303"))
    assert validated({"action": "delete", "id": [str(n) for n in range(51)]}) == (
        "Too many ids: at most 50 per request."
    )


def test_too_many_ids_is_said_before_a_bad_one() -> None:
    body = {"action": "delete", "id": ["*", *(str(n) for n in range(50))]}

    assert validated(body) == "Too many ids: at most 50 per request."


@pytest.mark.parametrize(
    "form_body",
    [
        '{"action": "add", "id": "301"}',
        '  \n{"action":"add","id":["301","302"]}',
        '["add", "301"]',
        "{",
    ],
)
def test_json_sent_as_a_form_gets_a_hint(form_body: str) -> None:
    assert validated(QueryDict(form_body)) == HINT


@pytest.mark.parametrize(
    "data",
    [QueryDict("id=301"), QueryDict("x={}&id=301"), {"id": "301"}, {"{": "", "id": "301"}],
)
def test_no_hint_for_a_body_that_does_not_look_like_json_sent_as_a_form(data: Any) -> None:
    assert validated(data) == MISSING_ACTION


# Over HTTP


@pytest.fixture
def items(db: Any) -> list[Any]:
    return [CatalogueItemFactory(id=item_id) for item_id in ("301", "302", "303")]


def stored(user: Any) -> list[str]:
    return list(
        Favourite.objects.filter(user=user)
        .order_by("-added", "-id")
        .values_list("item_id", flat=True)
    )


def test_remove_deletes_in_a_form_and_in_json(api: Any, items: list[Any]) -> None:
    add_favourites(api.user, ["301", "302", "303"])
    version = FavouriteListState.objects.get(user=api.user).version

    form = api.post(urlencode({"action": "remove", "id": ["302", "999"]}, doseq=True))
    as_json = api.post(
        json.dumps({"action": "remove", "id": "303"}), content_type="application/json"
    )

    assert (form.status_code, as_json.status_code) == (200, 200)
    assert [e["id"] for e in json.loads(form.content)["_links"]["favourites"]] == ["303", "301"]
    assert [e["id"] for e in json.loads(as_json.content)["_links"]["favourites"]] == ["301"]
    assert stored(api.user) == ["301"]
    assert FavouriteListState.objects.get(user=api.user).version == version + 2


@pytest.mark.parametrize(
    ("accept_language", "message"),
    [
        ("en", HINT),
        (
            "de",
            "Der Parameter 'action' fehlt: add oder delete verwenden. Der Inhalt sieht wie "
            "JSON aus: mit Content-Type: application/json senden.",
        ),
    ],
)
def test_json_posted_as_a_form_is_refused_with_the_hint(
    api: Any, items: list[Any], accept_language: str, message: str
) -> None:
    # What `curl -d '{"action": "add", "id": "301"}'` sends.
    response = api.post('{"action": "add", "id": "301"}', HTTP_ACCEPT_LANGUAGE=accept_language)

    assert response.status_code == 400
    assert json.loads(response.content) == {"error": {"message": message}}
    assert stored(api.user) == []
    assert not FavouriteListState.objects.filter(user=api.user).exists()
