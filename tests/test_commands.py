"""Management commands: import_catalogue, export_favourites, remove_favourites."""

from __future__ import annotations

import copy
import io
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from database_state import document_clock, moved, shown_begin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import QuerySet
from django.db.models.signals import post_save
from django.test import Client, override_settings
from django.utils import translation

from dch_favourites.models import (
    CatalogueItem,
    CatalogueItemTranslation,
    Favourite,
    FavouriteListState,
)
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, UserFactory

pytestmark = pytest.mark.django_db

SPEC_ITEMS = json.loads((Path(__file__).parent / "data" / "spec_items.json").read_text("utf-8"))


def run(*args: Any, **options: Any) -> str:
    """Run a command; what it printed to standard output."""
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def write_json(tmp_path: Path, data: Any, name: str = "items.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def items_snapshot() -> list[tuple[Any, ...]]:
    return list(
        CatalogueItem.objects.order_by("pk").values_list(
            "pk", "type", "title", "short_title", "published", "begin", "updated"
        )
    )


def translations_snapshot() -> list[tuple[Any, ...]]:
    return list(
        CatalogueItemTranslation.objects.order_by("item_id", "language").values_list(
            "item_id", "language", "title", "short_title"
        )
    )


# import_catalogue


def test_import_from_a_file(tmp_path: Path) -> None:
    output = run("import_catalogue", write_json(tmp_path, SPEC_ITEMS))

    assert output == "Imported 3 items: 3 created, 0 updated, 0 unchanged.\n"
    assert [
        (pk, item_type, title, int(updated.timestamp()))
        for pk, item_type, title, _short, _pub, _begin, updated in items_snapshot()
    ] == [
        ("23427-1", "work", "[Éclat] (1st Version for 15 instruments from 1965)", 1475074300),
        ("23427-3", "interview", "Introduction by Sir Simon Rattle", 1473077071),
        ("301", "film", "“Guardians of Unity”: Conductors in conversation", 1464622718),
    ]
    work = CatalogueItem.objects.get(pk="23427-1")
    assert work.concert_id == "23427"
    assert work.short_title is None
    assert int(work.begin.timestamp()) == 1472229000


def test_import_from_standard_input(monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(SPEC_ITEMS)))

    output = run("import_catalogue", "-")

    assert output == "Imported 3 items: 3 created, 0 updated, 0 unchanged.\n"
    assert CatalogueItem.objects.count() == 3


def test_a_second_import_of_the_same_file_changes_nothing(tmp_path: Path) -> None:
    path = write_json(tmp_path, SPEC_ITEMS)
    run("import_catalogue", path)
    listener = UserFactory()
    add_favourites(listener, ["301", "23427-1"])
    state = FavouriteListState.objects.get(user=listener)
    before = items_snapshot()

    output = run("import_catalogue", path)

    assert output == "Imported 3 items: 0 created, 0 updated, 3 unchanged.\n"
    assert items_snapshot() == before
    after = FavouriteListState.objects.get(user=listener)
    assert (after.version, after.updated) == (state.version, state.updated)


def test_a_changed_record_is_updated_and_moves_the_lists_holding_it(tmp_path: Path) -> None:
    run("import_catalogue", write_json(tmp_path, SPEC_ITEMS))
    listener = UserFactory()
    add_favourites(listener, ["301"])
    before = document_clock(listener)
    records = copy.deepcopy(SPEC_ITEMS)
    records[0]["title"] = "Guardians of Unity (restored)"
    records[0]["updated"] = 1500000000

    output = run("import_catalogue", write_json(tmp_path, records, "v2.json"))

    assert output == "Imported 3 items: 0 created, 1 updated, 2 unchanged.\n"
    film = CatalogueItem.objects.get(pk="301")
    assert film.title == "Guardians of Unity (restored)"
    assert int(film.updated.timestamp()) == 1500000000
    assert moved(before, document_clock(listener))


def test_the_given_updated_is_kept_and_served(api: Any, tmp_path: Path) -> None:
    run("import_catalogue", write_json(tmp_path, SPEC_ITEMS))
    add_favourites(api.user, ["301", "23427-3", "23427-1"])

    body = json.loads(api.get().content)

    assert [(e["id"], e["updated"]) for e in body["_links"]["favourites"]] == [
        ("23427-1", 1475074300),
        ("23427-3", 1473077071),
        ("301", 1464622718),
    ]


def test_without_updated_an_item_is_stamped_with_the_import_time(tmp_path: Path) -> None:
    record = {k: v for k, v in SPEC_ITEMS[0].items() if k != "updated"}
    before = int(time.time())

    run("import_catalogue", write_json(tmp_path, [record]))

    updated = int(CatalogueItem.objects.get(pk="301").updated.timestamp())
    assert before <= updated <= int(time.time())
    # Unchanged on a second run: the stamp stays.
    assert run("import_catalogue", write_json(tmp_path, [record], "again.json")) == (
        "Imported 1 item: 0 created, 0 updated, 1 unchanged.\n"
    )
    assert int(CatalogueItem.objects.get(pk="301").updated.timestamp()) == updated


def test_image_templates_come_back_byte_identical(api: Any, tmp_path: Path) -> None:
    run("import_catalogue", write_json(tmp_path, SPEC_ITEMS))
    add_favourites(api.user, ["301", "23427-3", "23427-1"])
    templates = [
        record["image"][key].encode()
        for record in SPEC_ITEMS
        for key in ("overview", "detail")
        if record["image"][key] is not None
    ]
    assert len(templates) == 4

    listed = api.get().content
    resources = [Client().get(f"/v2/{r['type']}/{r['id']}").content for r in SPEC_ITEMS]

    for template in templates:
        assert b'"' + template + b'"' in listed
        assert any(b'"' + template + b'"' in resource for resource in resources)
    assert b"%7B" not in listed
    assert all(b"%7B" not in resource for resource in resources)
    by_id = {e["id"]: e for e in json.loads(listed)["_links"]["favourites"]}
    for record in SPEC_ITEMS:
        assert by_id[record["id"]]["image"] == record["image"]


def test_a_part_listed_before_its_concert_takes_the_concerts_begin(tmp_path: Path) -> None:
    work = {
        "id": "777-1",
        "type": "work",
        "title": "Work",
        "date": {"published": 1000, "begin": 2000},
        "updated": 5000,
    }
    concert = {
        "id": "777",
        "type": "concert",
        "title": "Concert",
        "date": {"published": 1000, "begin": 3000},
        "updated": 5000,
    }

    run("import_catalogue", write_json(tmp_path, [work, concert]))

    assert shown_begin("777-1") == 3000
    assert int(CatalogueItem.objects.get(pk="777-1").updated.timestamp()) == 5000
    # Again, with a new begin for the concert: that changes the part's entry too, and the
    # part is stored again with the file's `updated`.
    concert["date"] = {"published": 1000, "begin": 4000}
    output = run("import_catalogue", write_json(tmp_path, [work, concert], "v2.json"))
    assert output == "Imported 2 items: 0 created, 2 updated, 0 unchanged.\n"
    assert shown_begin("777-1") == 4000
    assert int(CatalogueItem.objects.get(pk="777-1").updated.timestamp()) == 5000


def test_a_numeric_id_is_imported_as_its_string(tmp_path: Path) -> None:
    record = {**SPEC_ITEMS[0], "id": 301}

    output = run("import_catalogue", write_json(tmp_path, [record]))

    assert output == "Imported 1 item: 1 created, 0 updated, 0 unchanged.\n"
    assert list(CatalogueItem.objects.values_list("pk", flat=True)) == ["301"]


def test_a_part_whose_concert_is_missing_can_be_updated(tmp_path: Path) -> None:
    work = {"id": "777-1", "type": "work", "title": "Etude", "date": {"published": 1000}}
    run("import_catalogue", write_json(tmp_path, [work]))

    output = run("import_catalogue", write_json(tmp_path, [{**work, "title": "Étude"}], "2.json"))

    assert output == "Imported 1 item: 0 created, 1 updated, 0 unchanged.\n"
    stored = CatalogueItem.objects.get(pk="777-1")
    assert (stored.title, stored.concert_id) == ("Étude", "777")
    assert not CatalogueItem.objects.filter(pk="777").exists()


GOOD = {
    "id": "302",
    "type": "film",
    "title": "Another film",
    "is_free": True,
    "date": {"published": 1463558400},
}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("not an object", "Record 2: a record must be a JSON object"),
        (
            {**GOOD, "id": "a b"},
            "Record 2 (id 'a b'): 'id' must be a string of 1 to 64 letters, digits, '-' or '_'",
        ),
        (
            {**GOOD, "id": None},
            "Record 2: 'id' must be a string of 1 to 64 letters, digits, '-' or '_'",
        ),
        (
            {**GOOD, "type": "movie"},
            "Record 2 (id '302'): 'type' must be one of concert, work, interview, film, playlist",
        ),
        (
            {**GOOD, "type": "work"},
            "Record 2 (id '302'): a work id is '<concert id>-<number>'",
        ),
        ({**GOOD, "id": "c1", "type": "concert"}, "Record 2 (id 'c1'): a concert id is a number"),
        (
            {**GOOD, "title": " "},
            "Record 2 (id '302'): 'title' must be a non-empty string of at most 500 characters",
        ),
        (
            {**GOOD, "title": "a\x00b"},
            "Record 2 (id '302'): 'title' must not hold a NUL character or a lone surrogate",
        ),
        (
            {**GOOD, "type": None},
            "Record 2 (id '302'): 'type' must be one of concert, work, interview, film, playlist",
        ),
        ({"id": "302", "type": "film", "title": "Film"}, "Record 2 (id '302'): 'date' is required"),
        (
            {**GOOD, "type": "concert", "short_title": "x" * 201},
            "Record 2 (id '302'): 'short_title' must be a string of at most 200 characters, "
            "or null",
        ),
        ({**GOOD, "is_free": "yes"}, "Record 2 (id '302'): 'is_free' must be true or false"),
        ({**GOOD, "date": None}, "Record 2 (id '302'): 'date' must be an object with 'published'"),
        ({**GOOD, "date": {}}, "Record 2 (id '302'): 'date.published' is required"),
        (
            {**GOOD, "date": {"published": 1463558400.5}},
            "Record 2 (id '302'): 'date.published' must be an integer count of Unix seconds",
        ),
        (
            {**GOOD, "date": {"published": "2016-05-18"}},
            "Record 2 (id '302'): 'date.published' must be an integer count of Unix seconds",
        ),
        (
            {**GOOD, "updated": -1},
            "Record 2 (id '302'): 'updated' must be an integer count of Unix seconds",
        ),
        (
            {**GOOD, "image": "x.jpg"},
            "Record 2 (id '302'): 'image' must be an object with 'overview' and 'detail', or null",
        ),
        (
            {**GOOD, "image": False},
            "Record 2 (id '302'): 'image' must be an object with 'overview' and 'detail', or null",
        ),
        (
            {**GOOD, "image": {"overview": None, "teaser": "t.jpg"}},
            "Record 2 (id '302'): unknown field 'image.teaser'",
        ),
        (
            {**GOOD, "short_title": "Film"},
            "Record 2 (id '302'): a film has no 'short_title': leave it out or set it to null",
        ),
        (
            {**GOOD, "short_title": ""},
            "Record 2 (id '302'): a film has no 'short_title': leave it out or set it to null",
        ),
        (
            {**GOOD, "type": "playlist", "date": {"published": 1463558400, "begin": 1463558400}},
            "Record 2 (id '302'): a playlist has no 'date.begin': leave it out or set it to null",
        ),
        (
            {**GOOD, "translations": {"de": {"title": "Film", "short_title": "F"}}},
            "Record 2 (id '302'): a film has no 'translations.de.short_title': leave it out or "
            "set it to null",
        ),
        (
            {**GOOD, "subtitle": "x", "_links": {}},
            "Record 2 (id '302'): unknown field '_links', 'subtitle'",
        ),
        (
            {**GOOD, "date": {"published": 1463558400, "end": 1463558400}},
            "Record 2 (id '302'): unknown field 'date.end'",
        ),
        (
            {**GOOD, "translations": {"de": {"title": "Film", "subtitle": "x"}}},
            "Record 2 (id '302'): unknown field 'translations.de.subtitle'",
        ),
        (
            {**GOOD, "translations": {"en": {"title": "English"}}},
            "Record 2 (id '302'): translation language 'en' is not one of the other LANGUAGES",
        ),
        (
            {**GOOD, "translations": {"fr": {"title": "Français"}}},
            "Record 2 (id '302'): translation language 'fr' is not one of the other LANGUAGES",
        ),
        (
            {**GOOD, "translations": ["de"]},
            "Record 2 (id '302'): 'translations' must be an object keyed by language",
        ),
        (
            {**GOOD, "translations": {"de": "Titel"}},
            "Record 2 (id '302'): 'translations.de' must be an object with 'title'",
        ),
        (
            {**GOOD, "translations": {"de": {"short_title": None}}},
            "Record 2 (id '302'): 'translations.de.title' is required",
        ),
        (
            {**GOOD, "translations": {"de": {"title": ""}}},
            "Record 2 (id '302'): 'translations.de.title' must be a non-empty string of at most "
            "500 characters",
        ),
        (
            {**GOOD, "type": "concert", "translations": {"de": {"title": "T", "short_title": 5}}},
            "Record 2 (id '302'): 'translations.de.short_title' must be a string of at most 200 "
            "characters, or null",
        ),
        ({**GOOD, "id": "301"}, "Record 2 (id '301'): id repeats record 1"),
    ],
)
def test_a_bad_record_rejects_the_whole_file(tmp_path: Path, bad: Any, reason: str) -> None:
    CatalogueItemFactory(id="999", title="Already there")
    before = items_snapshot()
    records = [SPEC_ITEMS[0], bad, {**SPEC_ITEMS[2], "title": "Would change"}]

    with pytest.raises(CommandError) as raised:
        run("import_catalogue", write_json(tmp_path, records))

    assert str(raised.value) == f"Nothing imported. {reason}"
    assert items_snapshot() == before
    assert not CatalogueItemTranslation.objects.exists()


def test_a_bad_record_late_in_the_file_leaves_earlier_updates_unwritten(tmp_path: Path) -> None:
    run("import_catalogue", write_json(tmp_path, SPEC_ITEMS))
    before = items_snapshot()
    records = copy.deepcopy(SPEC_ITEMS)
    records[0]["title"] = "Changed"
    records[0]["translations"] = {"de": {"title": "Geändert"}}
    records.append({**GOOD, "date": {"published": True}})

    with pytest.raises(CommandError) as raised:
        run("import_catalogue", write_json(tmp_path, records, "v2.json"))

    assert str(raised.value) == (
        "Nothing imported. Record 4 (id '302'): 'date.published' must be an integer count of "
        "Unix seconds"
    )
    assert items_snapshot() == before
    assert not CatalogueItemTranslation.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "301"}', "Nothing imported. The file must hold a JSON list of items."),
        ("[{]", "is not valid JSON: Expecting property name enclosed in double quotes"),
        ("", "is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    ],
)
def test_a_file_that_is_not_a_json_list(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError) as raised:
        run("import_catalogue", str(path))

    assert message in str(raised.value)
    assert not CatalogueItem.objects.exists()


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as raised:
        run("import_catalogue", str(tmp_path / "missing.json"))

    assert str(raised.value).startswith(f"Cannot read {tmp_path / 'missing.json'}: ")
    assert not CatalogueItem.objects.exists()


SURROGATE = "must not hold a NUL character or a lone surrogate"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({**GOOD, "title": "a\ud800"}, f"'title' {SURROGATE}"),
        (
            {**GOOD, "translations": {"de": {"title": "\udfff"}}},
            f"'translations.de.title' {SURROGATE}",
        ),
        ({**GOOD, "image": {"overview": "//x/\udc00.jpg"}}, f"'image.overview' {SURROGATE}"),
        ({**GOOD, "x\ud800": 1}, "unknown field 'x\\ud800'"),
    ],
)
def test_a_lone_surrogate_is_refused_by_name(tmp_path: Path, bad: Any, reason: str) -> None:
    path = tmp_path / "surrogate.json"
    # ASCII JSON: the escape "\ud800" decodes to a lone surrogate, which no database stores.
    path.write_text(json.dumps([SPEC_ITEMS[0], bad]), encoding="utf-8")
    assert "\\ud" in path.read_text(encoding="utf-8")

    with pytest.raises(CommandError) as raised:
        run("import_catalogue", str(path))

    assert str(raised.value) == f"Nothing imported. Record 2 (id '302'): {reason}"
    assert not CatalogueItem.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 200_000 + "]" * 200_000, "is nested too deeply to read."),
        ('[{"id": ' + "1" * 5000 + "}]", "is not valid JSON: Exceeds the limit (4300 digits)"),
    ],
)
def test_json_that_python_cannot_decode_is_a_command_error(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "deep.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError) as raised:
        run("import_catalogue", str(path))

    assert str(raised.value).startswith(f"{path} {message}")
    assert not CatalogueItem.objects.exists()


# A concert: films and playlists have no short title.
TRANSLATED = {
    **GOOD,
    "type": "concert",
    "short_title": "Film",
    "updated": 1500000000,
    "translations": {"de": {"title": "Noch ein Film", "short_title": None}},
}


def test_translations_are_imported(tmp_path: Path) -> None:
    output = run("import_catalogue", write_json(tmp_path, [TRANSLATED]))

    assert output == "Imported 1 item: 1 created, 0 updated, 0 unchanged.\n"
    assert translations_snapshot() == [("302", "de", "Noch ein Film", None)]
    assert int(CatalogueItem.objects.get(pk="302").updated.timestamp()) == 1500000000
    again = run("import_catalogue", write_json(tmp_path, [TRANSLATED], "again.json"))
    assert again == "Imported 1 item: 0 created, 0 updated, 1 unchanged.\n"


def test_a_changed_translation_updates_the_item_and_keeps_its_updated(tmp_path: Path) -> None:
    run("import_catalogue", write_json(tmp_path, [TRANSLATED]))
    listener = UserFactory()
    add_favourites(listener, ["302"])
    before = document_clock(listener)
    changed = {**TRANSLATED, "translations": {"de": {"title": "Ein Film", "short_title": "F"}}}

    output = run("import_catalogue", write_json(tmp_path, [changed], "v2.json"))

    assert output == "Imported 1 item: 0 created, 1 updated, 0 unchanged.\n"
    assert translations_snapshot() == [("302", "de", "Ein Film", "F")]
    assert int(CatalogueItem.objects.get(pk="302").updated.timestamp()) == 1500000000
    assert moved(before, document_clock(listener))


def test_a_changed_item_keeps_its_translations_and_its_updated(tmp_path: Path) -> None:
    run("import_catalogue", write_json(tmp_path, [TRANSLATED]))
    renamed = {**TRANSLATED, "title": "Renamed film", "updated": 1600000000}

    run("import_catalogue", write_json(tmp_path, [renamed], "v2.json"))

    assert translations_snapshot() == [("302", "de", "Noch ein Film", None)]
    item = CatalogueItem.objects.get(pk="302")
    assert (item.title, int(item.updated.timestamp())) == ("Renamed film", 1600000000)


def test_leaving_translations_out_keeps_them_and_an_empty_object_removes_them(
    tmp_path: Path,
) -> None:
    run("import_catalogue", write_json(tmp_path, [TRANSLATED]))
    CatalogueItemTranslation.objects.filter(item_id="302").update(title="Edited by staff")
    without = {k: v for k, v in TRANSLATED.items() if k != "translations"}

    kept = run("import_catalogue", write_json(tmp_path, [without], "without.json"))
    assert kept == "Imported 1 item: 0 created, 0 updated, 1 unchanged.\n"
    assert translations_snapshot() == [("302", "de", "Edited by staff", None)]

    emptied = run(
        "import_catalogue", write_json(tmp_path, [{**without, "translations": {}}], "e.json")
    )
    assert emptied == "Imported 1 item: 0 created, 1 updated, 0 unchanged.\n"
    assert translations_snapshot() == []
    assert int(CatalogueItem.objects.get(pk="302").updated.timestamp()) == 1500000000


@override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": None, "LANGUAGES": ("en", "de", "fr")})
def test_translations_follow_the_languages_setting(tmp_path: Path) -> None:
    record = {**GOOD, "translations": {"de": {"title": "Film DE"}, "fr": {"title": "Film FR"}}}

    run("import_catalogue", write_json(tmp_path, [record]))

    assert translations_snapshot() == [
        ("302", "de", "Film DE", None),
        ("302", "fr", "Film FR", None),
    ]


@override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": None, "LANGUAGES": ("en", "de", "fr")})
def test_only_the_translations_that_changed_are_written(tmp_path: Path) -> None:
    both = {"de": {"title": "Film DE"}, "fr": {"title": "Film FR"}}
    run("import_catalogue", write_json(tmp_path, [{**GOOD, "translations": both}]))
    written: list[str] = []

    def saved(instance: CatalogueItemTranslation, **kwargs: Any) -> None:
        written.append(instance.language)

    changed = {**both, "fr": {"title": "Film FR, revu"}}
    post_save.connect(saved, sender=CatalogueItemTranslation, dispatch_uid="test_commands")
    try:
        output = run(
            "import_catalogue", write_json(tmp_path, [{**GOOD, "translations": changed}], "2.json")
        )
    finally:
        post_save.disconnect(sender=CatalogueItemTranslation, dispatch_uid="test_commands")

    assert output == "Imported 1 item: 0 created, 1 updated, 0 unchanged.\n"
    assert written == ["fr"]
    assert translations_snapshot() == [
        ("302", "de", "Film DE", None),
        ("302", "fr", "Film FR, revu", None),
    ]


# export_favourites


@pytest.fixture
def holder(tmp_path: Path) -> Any:
    """A listener with two favourites (added in a known order) and another listener."""
    run("import_catalogue", write_json(tmp_path, SPEC_ITEMS, "spec.json"))
    user = UserFactory(username="jürgen")
    add_favourites(user, ["301"])
    QuerySet(Favourite).filter(user=user, item_id="301").update(added=_at(1600000000))
    add_favourites(user, ["23427-1"])
    QuerySet(Favourite).filter(user=user, item_id="23427-1").update(added=_at(1600000100))
    add_favourites(UserFactory(username="other"), ["23427-3"])
    return user


def _at(seconds: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, tz=UTC)


def expected_export(user: Any) -> dict[str, Any]:
    return {
        "user": {"id": user.pk, "username": "jürgen"},
        "updated": FavouriteListState.objects.get(user=user).updated,
        "favourites": [
            {
                "id": "23427-1",
                "type": "work",
                "title": "[Éclat] (1st Version for 15 instruments from 1965)",
                "added": 1600000100,
            },
            {
                "id": "301",
                "type": "film",
                "title": "“Guardians of Unity”: Conductors in conversation",
                "added": 1600000000,
            },
        ],
    }


@pytest.mark.parametrize("by", ["username", "user-id"])
def test_export_to_standard_output(holder: Any, by: str) -> None:
    before = int(time.time())
    version = FavouriteListState.objects.get(user=holder).version
    who = "jürgen" if by == "username" else str(holder.pk)

    output = run("export_favourites", f"--{by}", who)

    document = json.loads(output)
    exported = document.pop("exported")
    assert before <= exported <= int(time.time())
    assert document == expected_export(holder)
    assert list(json.loads(output)) == ["user", "exported", "updated", "favourites"]
    assert "jürgen" in output  # not \u-escaped
    assert FavouriteListState.objects.get(user=holder).version == version
    assert Favourite.objects.filter(user=holder).count() == 2


def test_export_to_a_file(holder: Any, tmp_path: Path) -> None:
    path = tmp_path / "export.json"

    output = run("export_favourites", "--username", "jürgen", "--output", str(path))

    assert output == f"Exported 2 favourites of user 'jürgen' (id {holder.pk}) to {path}.\n"
    document = json.loads(path.read_text(encoding="utf-8"))
    del document["exported"]
    assert document == expected_export(holder)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_export_of_an_empty_list() -> None:
    user = UserFactory(username="new")

    document = json.loads(run("export_favourites", "--user-id", str(user.pk)))

    assert document["user"] == {"id": user.pk, "username": "new"}
    assert (document["updated"], document["favourites"]) == (0, [])


def test_export_to_an_unwritable_place(holder: Any, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "export.json"

    with pytest.raises(CommandError) as raised:
        run("export_favourites", "--username", "jürgen", "--output", str(target))

    assert str(raised.value) == f"Cannot write {target}: No such file or directory"
    assert not target.exists()


# remove_favourites


@pytest.mark.parametrize("flag", ["--yes", "--no-input", "--noinput"])
def test_remove_without_asking(holder: Any, flag: str, monkeypatch: Any) -> None:
    monkeypatch.setattr("builtins.input", _no_prompt)
    state = FavouriteListState.objects.get(user=holder)

    output = run("remove_favourites", "--username", "jürgen", flag)

    assert output == f"Removed 2 favourites of user 'jürgen' (id {holder.pk}).\n"
    assert not Favourite.objects.filter(user=holder).exists()
    assert list(Favourite.objects.values_list("user__username", "item_id")) == [
        ("other", "23427-3")
    ]
    after = FavouriteListState.objects.get(user=holder)
    assert after.version == state.version + 1
    assert after.updated > state.updated


def test_remove_with_call_command_options(holder: Any) -> None:
    output = run("remove_favourites", user_id=str(holder.pk), interactive=False)

    assert output == f"Removed 2 favourites of user 'jürgen' (id {holder.pk}).\n"
    assert not Favourite.objects.filter(user=holder).exists()


def test_remove_asks_first_and_yes_removes(holder: Any, monkeypatch: Any) -> None:
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "yes")

    output = run("remove_favourites", "--user-id", str(holder.pk))

    assert asked == [
        f"Remove all 2 favourites of user 'jürgen' (id {holder.pk})? This cannot be undone.\n"
        "Type 'yes' to continue, or 'no' to cancel: "
    ]
    assert output == f"Removed 2 favourites of user 'jürgen' (id {holder.pk}).\n"
    assert not Favourite.objects.filter(user=holder).exists()


@pytest.mark.parametrize("answer", ["no", "", "y", "yes please"])
def test_remove_is_cancelled_by_anything_but_yes(
    holder: Any, monkeypatch: Any, answer: str
) -> None:
    monkeypatch.setattr("builtins.input", lambda question: answer)
    version = FavouriteListState.objects.get(user=holder).version

    output = run("remove_favourites", "--username", "jürgen")

    assert output == "Cancelled; nothing removed.\n"
    assert Favourite.objects.filter(user=holder).count() == 2
    assert FavouriteListState.objects.get(user=holder).version == version


def test_remove_is_cancelled_at_the_end_of_input(holder: Any, monkeypatch: Any) -> None:
    def end_of_input(question: str) -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", end_of_input)

    output = run("remove_favourites", "--username", "jürgen")

    assert output == "Cancelled; nothing removed.\n"
    assert Favourite.objects.filter(user=holder).count() == 2


def test_remove_of_an_empty_list_does_not_ask(monkeypatch: Any) -> None:
    monkeypatch.setattr("builtins.input", _no_prompt)
    user = UserFactory(username="new")

    output = run("remove_favourites", "--username", "new")

    assert output == f"User 'new' (id {user.pk}) has no favourites; nothing removed.\n"
    assert not FavouriteListState.objects.filter(user=user).exists()


def _no_prompt(question: str) -> str:
    raise AssertionError(f"asked: {question}")


# Naming the listener, for both commands.


@pytest.mark.parametrize("command", ["export_favourites", "remove_favourites"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--username", "nobody"], "No user with username 'nobody'."),
        (["--user-id", "999999"], "No user with id '999999'."),
        (["--user-id", "abc"], "'abc' is not a valid user id."),
        (["--user-id", "9" * 30], f"No user with id '{'9' * 30}'."),
        (["--user-id", ""], "'' is not a valid user id."),
        ([], "Error: one of the arguments --username --user-id is required"),
        (
            ["--username", "jürgen", "--user-id", "1"],
            "Error: argument --user-id: not allowed with argument --username",
        ),
    ],
)
def test_unknown_or_badly_named_users(
    holder: Any, command: str, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError) as raised:
        run(command, *args, "--yes") if command == "remove_favourites" else run(command, *args)

    assert str(raised.value) == message
    assert Favourite.objects.count() == 3


# Messages: one and many, in English and in German.


def test_a_film_without_short_title_or_begin_and_numbers_with_a_zero_fraction_import(
    tmp_path: Path,
) -> None:
    record = {**GOOD, "short_title": None, "date": {"published": 1463558400.0, "begin": None}}

    output = run("import_catalogue", write_json(tmp_path, [record]))

    assert output == "Imported 1 item: 1 created, 0 updated, 0 unchanged.\n"
    film = CatalogueItem.objects.get(pk="302")
    assert (film.short_title, film.begin, int(film.published.timestamp())) == (
        None,
        None,
        1463558400,
    )


def test_one_favourite_is_singular(holder: Any, tmp_path: Path, monkeypatch: Any) -> None:
    Favourite.objects.filter(user=holder, item_id="301").delete()
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "yes")
    path = tmp_path / "one.json"

    exported = run("export_favourites", "--username", "jürgen", "--output", str(path))
    removed = run("remove_favourites", "--username", "jürgen")

    assert exported == f"Exported 1 favourite of user 'jürgen' (id {holder.pk}) to {path}.\n"
    assert asked == [
        f"Remove the 1 favourite of user 'jürgen' (id {holder.pk})? This cannot be undone.\n"
        "Type 'yes' to continue, or 'no' to cancel: "
    ]
    assert removed == f"Removed 1 favourite of user 'jürgen' (id {holder.pk}).\n"


def test_the_summaries_come_in_the_sites_language(
    holder: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("builtins.input", _no_prompt)
    one = write_json(tmp_path, [GOOD], "one.json")
    with translation.override("de"):
        imported_one = run("import_catalogue", one)
        imported_many = run("import_catalogue", write_json(tmp_path, SPEC_ITEMS, "spec.json"))
        removed = run("remove_favourites", "--username", "jürgen", "--yes")
        nothing = run("remove_favourites", "--username", "jürgen", "--yes")

    assert imported_one == "1 Eintrag importiert: 1 neu, 0 aktualisiert, 0 unverändert.\n"
    assert imported_many == "3 Einträge importiert: 0 neu, 0 aktualisiert, 3 unverändert.\n"
    assert removed == f"2 Favoriten von Benutzer 'jürgen' (id {holder.pk}) entfernt.\n"
    assert nothing == (
        f"Benutzer 'jürgen' (id {holder.pk}) hat keine Favoriten; nichts entfernt.\n"
    )
