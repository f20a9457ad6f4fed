"""GET and POST /v2/user/favourites: the list, its changes and their rules."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from database_state import document_clock, moved
from django.test import override_settings
from django.urls import include, path
from endpoints import URL

from dch_favourites.models import CatalogueItem, Favourite, FavouriteListState
from dch_favourites.services import add_favourites, remove_favourites
from factories import CatalogueItemFactory, ConcertFactory, UserFactory, WorkFactory, ts

pytestmark = pytest.mark.django_db


def body(response: Any) -> Any:
    return json.loads(response.content)


def ids(response: Any) -> list[str]:
    return [entry["id"] for entry in body(response)["_links"]["favourites"]]


def stored(user: Any) -> list[str]:
    return list(
        Favourite.objects.filter(user=user)
        .order_by("-added", "-id")
        .values_list("item_id", flat=True)
    )


def state(user: Any) -> tuple[int, int]:
    row = FavouriteListState.objects.filter(user=user).values_list("version", "updated").first()
    return row or (0, 0)


@pytest.fixture
def films(db: Any) -> list[CatalogueItem]:
    return [CatalogueItemFactory(id=str(301 + n)) for n in range(5)]


# GET


def test_entries_are_newest_first_with_a_stable_tie_break(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    add_favourites(api.user, ["303", "302"])  # one request: same `added`, later id wins
    add_favourites(api.user, ["304"])
    assert ids(api.get()) == ["304", "302", "303", "301"]
    assert ids(api.get()) == stored(api.user)


def test_keys_per_type(api: Any) -> None:
    ConcertFactory(id="23427", short_title="Rattle", begin=ts(1472229000))
    WorkFactory(id="23427-1", short_title="")
    CatalogueItemFactory(id="23427-3", type="interview", begin=ts(1))
    CatalogueItemFactory(id="301", type="film", short_title="ignored", begin=ts(5))
    CatalogueItemFactory(id="9001", type="playlist")
    add_favourites(api.user, ["23427", "23427-1", "23427-3", "301", "9001"])

    entries = {e["id"]: e for e in body(api.get())["_links"]["favourites"]}

    full = ["href", "updated", "id", "title", "short_title", "is_free", "date", "image", "type"]
    no_short = [key for key in full if key != "short_title"]
    assert list(entries["23427"]) == full
    assert list(entries["23427-1"]) == full
    assert list(entries["23427-3"]) == full
    assert list(entries["301"]) == no_short
    assert list(entries["9001"]) == no_short
    assert entries["23427"]["short_title"] == "Rattle"
    assert entries["23427-1"]["short_title"] is None
    assert entries["301"]["date"] == {"published": 1463558400}
    # Parts take their concert's begin, whatever their own column says.
    assert entries["23427-1"]["date"] == {"published": 1463558400, "begin": 1472229000}
    assert entries["23427-3"]["date"] == {"published": 1463558400, "begin": 1472229000}


def test_part_without_its_concert_keeps_its_own_begin(api: Any) -> None:
    WorkFactory(id="777-1", begin=ts(1500000000))
    CatalogueItemFactory(id="778-1", type="work", begin=None)
    add_favourites(api.user, ["777-1", "778-1"])
    entries = {e["id"]: e for e in body(api.get())["_links"]["favourites"]}
    assert entries["777-1"]["date"]["begin"] == 1500000000
    assert entries["778-1"]["date"]["begin"] is None
    assert CatalogueItem.objects.get(pk="777-1").concert_id == "777"


def test_href_derives_from_host_and_mount_path(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    response = api.get(HTTP_HOST="localhost:8000")
    assert body(response)["_links"]["favourites"][0]["href"] == "//localhost:8000/v2/film/301"


urlpatterns = [path("api/v9/", include("dch_favourites.api.urls"))]


@override_settings(ROOT_URLCONF=__name__)
def test_href_follows_another_mount_path(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    response = api.get(url="/api/v9/user/favourites")
    assert body(response)["_links"]["favourites"][0]["href"] == "//testserver/api/v9/film/301"


@override_settings(DCH_FAVOURITES={"API_BASE_URL": "//api.example.com/v2"})
def test_href_from_the_setting(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    assert body(api.get())["_links"]["favourites"][0]["href"] == "//api.example.com/v2/film/301"


def test_disallowed_host_is_400_in_the_envelope(api: Any) -> None:
    response = api.get(HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert body(response) == {"error": {"message": "Bad request."}}


def test_updated_moves_forward_on_every_change_and_never_back(api: Any, films: Any) -> None:
    seen = [body(api.get())["updated"]]
    for action, item in [
        ("add", "301"),
        ("add", "302"),
        ("delete", "301"),
        ("delete", "302"),
        ("add", "301"),
    ]:
        response = api.form(action=action, id=item)
        assert response.status_code == 200
        seen.append(body(response)["updated"])
        assert body(api.get())["updated"] == seen[-1]
    assert seen == sorted(set(seen))
    assert state(api.user)[0] == 5


def test_edit_of_a_listed_item_moves_the_list(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    before = body(api.get())
    item = CatalogueItem.objects.get(pk="301")
    item.title = "Renamed"
    item.save()
    after = body(api.get())
    assert after["updated"] > before["updated"]
    assert after["_links"]["favourites"][0]["title"] == "Renamed"
    assert (
        after["_links"]["favourites"][0]["updated"] >= before["_links"]["favourites"][0]["updated"]
    )


def test_edit_of_a_concert_begin_moves_lists_holding_its_parts(api: Any) -> None:
    concert = ConcertFactory(id="23427", begin=ts(1472229000))
    WorkFactory(id="23427-1")
    add_favourites(api.user, ["23427-1"])
    before = document_clock(api.user)
    concert.begin = ts(1472230000)
    concert.save()
    assert body(api.get())["_links"]["favourites"][0]["date"]["begin"] == 1472230000
    assert moved(before, document_clock(api.user))


def test_delete_of_a_listed_item_moves_the_list(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301", "302"])
    before = document_clock(api.user)
    CatalogueItem.objects.filter(pk="301").delete()
    assert ids(api.get()) == ["302"]
    assert moved(before, document_clock(api.user))


def test_delete_of_a_user_takes_their_list(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    api.user.delete()
    assert not Favourite.objects.exists()
    assert not FavouriteListState.objects.exists()


# POST


@pytest.mark.parametrize("encoding", ["form", "multipart", "json"])
def test_add_answers_200_with_the_whole_list(api: Any, films: Any, encoding: str) -> None:
    add_favourites(api.user, ["302"])
    if encoding == "form":
        response = api.form(action="add", id="301")
    elif encoding == "multipart":
        response = api.post({"action": "add", "id": "301"})
    else:
        response = api.post(
            json.dumps({"action": "add", "id": "301"}), content_type="application/json"
        )
    assert response.status_code == 200
    assert ids(response) == ["301", "302"]
    assert body(response) == body(api.get())
    assert stored(api.user) == ["301", "302"]


def test_json_body_takes_a_list_of_ids(api: Any, films: Any) -> None:
    response = api.post(
        json.dumps({"action": "add", "id": ["301", "302"]}), content_type="application/json"
    )
    assert response.status_code == 200
    assert stored(api.user) == ["302", "301"]


def test_json_ids_may_be_numbers(api: Any, films: Any) -> None:
    response = api.post(
        json.dumps({"action": "add", "id": [301, "302"]}), content_type="application/json"
    )

    assert response.status_code == 200
    assert stored(api.user) == ["302", "301"]
    assert [entry["id"] for entry in body(response)["_links"]["favourites"]] == ["302", "301"]


def test_add_of_an_item_already_listed_changes_nothing(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    before, version = body(api.get()), state(api.user)
    response = api.form(action="add", id="301")
    assert response.status_code == 200
    assert body(response) == before
    assert state(api.user) == version


def test_delete_of_an_item_not_listed_changes_nothing(api: Any, films: Any) -> None:
    add_favourites(api.user, ["301"])
    before, version = body(api.get()), state(api.user)
    for item in ("302", "99999"):
        response = api.form(action="delete", id=item)
        assert response.status_code == 200
        assert body(response) == before
    assert state(api.user) == version


def test_delete_for_a_listener_who_never_had_a_list(api: Any, films: Any) -> None:
    response = api.form(action="delete", id="301")
    assert response.status_code == 200
    assert body(response) == {"updated": 0, "_links": {"favourites": []}}
    assert not Favourite.objects.exists()


def test_add_of_an_unknown_id_is_404_and_changes_nothing(api: Any, films: Any) -> None:
    response = api.form(action="add", id="99999")
    assert response.status_code == 404
    assert body(response) == {"error": {"message": "Unknown catalogue id: 99999."}}
    assert stored(api.user) == []
    assert state(api.user) == (0, 0)


def test_repeated_ids_apply_all_atomically(api: Any, films: Any) -> None:
    response = api.form(action="add", id=["301", "302", "303", "302"])
    assert response.status_code == 200
    assert stored(api.user) == ["303", "302", "301"]
    assert state(api.user)[0] == 1
    response = api.form(action="delete", id=["301", "303"])
    assert stored(api.user) == ["302"]
    assert state(api.user)[0] == 2


def test_one_unknown_id_rejects_the_whole_request(api: Any, films: Any) -> None:
    response = api.form(action="add", id=["301", "nope", "302", "neither"])
    assert response.status_code == 404
    assert body(response) == {"error": {"message": "Unknown catalogue id: nope, neither."}}
    assert stored(api.user) == []


@override_settings(DCH_FAVOURITES={"MAX_IDS_PER_REQUEST": 3, "WRITE_THROTTLE_RATE": None})
def test_more_ids_than_the_cap_is_400(api: Any, films: Any) -> None:
    response = api.form(action="add", id=["301", "302", "303", "304"])
    assert response.status_code == 400
    assert body(response) == {"error": {"message": "Too many ids: at most 3 per request."}}
    assert stored(api.user) == []
    assert api.form(action="add", id=["301", "302", "303"]).status_code == 200


def test_default_id_cap_is_50(api: Any) -> None:
    response = api.form(action="delete", id=[str(n) for n in range(51)])
    assert response.status_code == 400
    assert body(response) == {"error": {"message": "Too many ids: at most 50 per request."}}


@override_settings(DCH_FAVOURITES={"MAX_FAVOURITES_PER_USER": 3, "WRITE_THROTTLE_RATE": None})
def test_list_length_cap(api: Any, films: Any) -> None:
    api.form(action="add", id=["301", "302"])
    response = api.form(action="add", id=["303", "304"])
    assert response.status_code == 409
    assert body(response) == {
        "error": {"message": "The favourites list is full: it holds at most 3 items."}
    }
    assert stored(api.user) == ["302", "301"]
    assert api.form(action="add", id="303").status_code == 200
    assert api.form(action="add", id="304").status_code == 409
    assert api.get().status_code == 200
    assert api.form(action="add", id="301").status_code == 200  # already listed: no growth
    assert api.form(action="delete", id="301").status_code == 200
    assert stored(api.user) == ["303", "302"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": "301"}, "Missing parameter 'action': use add or delete."),
        ({"action": "", "id": "301"}, "Parameter 'action' is blank: use add or delete."),
        ({"action": "  ", "id": "301"}, "Parameter 'action' is blank: use add or delete."),
        ({"action": "drop", "id": "301"}, "Unknown action 'drop': use add or delete."),
        ({"action": "Add", "id": "301"}, "Unknown action 'Add': use add or delete."),
        ({"action": ["add", "delete"], "id": "301"}, "Parameter 'action' must be given once."),
        ({"action": "add"}, "Missing parameter 'id'."),
        ({"action": "add", "id": ""}, "Parameter 'id' is blank."),
        ({"action": "add", "id": ["301", " "]}, "Parameter 'id' is blank."),
        (
            {"action": "add", "id": "../etc/passwd"},
            "Invalid id '../etc/passwd': an id is 1 to 64 letters, digits, '-' or '_'.",
        ),
    ],
)
def test_bad_parameters_are_400_naming_the_problem(
    api: Any, films: Any, fields: Any, message: str
) -> None:
    response = api.post(urlencode(fields, doseq=True))
    assert response.status_code == 400
    assert body(response) == {"error": {"message": message}}
    assert stored(api.user) == []
    assert state(api.user) == (0, 0)


def test_empty_post_is_400(api: Any) -> None:
    response = api.client.post(URL, **api.headers())
    assert response.status_code == 400
    assert body(response) == {
        "error": {"message": "Missing parameter 'action': use add or delete."}
    }


def test_parameters_in_the_query_string_are_not_read(api: Any, films: Any) -> None:
    response = api.client.post(f"{URL}?action=add&id=301", **api.headers())
    assert response.status_code == 400
    assert stored(api.user) == []


def test_python_callers_share_the_write_path(api: Any, films: Any) -> None:
    other = UserFactory(username="other")
    add_favourites(other, ["301"])
    Favourite.objects.create(user=api.user, item_id="302")
    assert state(api.user)[0] == 1
    Favourite.objects.filter(user=api.user).delete()
    assert state(api.user)[0] == 2
    assert stored(other) == ["301"]
    remove_favourites(other, ["301"])
    assert state(other)[0] == 2
