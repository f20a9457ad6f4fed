"""The packaged JSON Schema of the catalogue format and the importer agree on every document.

The importer validates with the schema alone; these tests hold what it does after that (the
write) to the schema's verdict. Each record of each type is
mutated field by field with a palette of values (and with the field left out); the
schema's verdict and the importer's must be the same. The rule JSON Schema cannot express
is listed in ``BEYOND_SCHEMA`` and checked on its own.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from jsonschema import Draft202012Validator

import dch_favourites
from dch_favourites.catalogue_import import (
    CatalogueImportError,
    catalogue_schema,
    import_catalogue,
)
from dch_favourites.conf import app_settings
from dch_favourites.models import CatalogueItem

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = Path(dch_favourites.__file__).parent / "catalogue.schema.json"
DOCS = ROOT / "docs" / "catalogue-format.md"
MISSING = object()

IMAGE = "//www-dev1.dchdev.net/cms/thumbnails/{width}x{height}/images/core/a.jpg"
BASES: dict[str, dict[str, Any]] = {
    "concert": {
        "id": "23427",
        "type": "concert",
        "title": "Simon Rattle conducts Boulez",
        "short_title": "Rattle / Boulez",
        "is_free": False,
        "date": {"published": 1472720400, "begin": 1472229000},
        "image": {"overview": IMAGE, "detail": None},
        "updated": 1475074300,
        "translations": {"de": {"title": "Simon Rattle dirigiert Boulez", "short_title": None}},
    },
    "work": {
        "href": "//tv-dev1.dchdev.net/v2/work/23427-1",
        "id": "23427-1",
        "type": "work",
        "title": "[Éclat] (1st Version for 15 instruments from 1965)",
        "short_title": None,
        "is_free": False,
        "date": {"published": 1472720400, "begin": 1472229000},
        "image": {"overview": IMAGE, "detail": IMAGE},
        "updated": 1475074300,
    },
    "interview": {
        "id": "23427-3",
        "type": "interview",
        "title": "Introduction by Sir Simon Rattle",
        "is_free": True,
        "date": {"published": 1472720400},
        "translations": {"de": {"title": "Einführung von Sir Simon Rattle"}},
    },
    "film": {
        "id": "301",
        "type": "film",
        "title": "“Guardians of Unity”: Conductors in conversation",
        "is_free": False,
        "date": {"published": 1463558400},
        "image": {"overview": None, "detail": None},
        "updated": 1464622718,
        "translations": {"de": {"title": "„Hüter der Einheit“"}},
    },
    "playlist": {
        "id": "pl_brahms-1",
        "type": "playlist",
        "title": "Brahms symphonies",
        "date": {"published": 1463558400, "begin": None},
        "short_title": None,
    },
}

# Where a value is put: a path of keys into the record.
PATHS = [
    ("id",),
    ("type",),
    ("title",),
    ("short_title",),
    ("is_free",),
    ("date",),
    ("date", "published"),
    ("date", "begin"),
    ("image",),
    ("image", "overview"),
    ("image", "detail"),
    ("updated",),
    ("translations",),
    ("translations", "de"),
    ("translations", "de", "title"),
    ("translations", "de", "short_title"),
    ("translations", "de", "subtitle"),
    ("translations", "fr"),
    ("translations", "en"),
    ("href",),
    ("_links",),
    ("date", "end"),
    ("image", "teaser"),
]

PALETTE: list[Any] = [
    MISSING,
    None,
    True,
    False,
    0,
    -1,
    7,
    1.0,
    1472720400.0,
    1.5,
    float("nan"),
    2**70,
    253402300799,
    253402300800,
    "",
    " \t\n",
    "x",
    "x\x00y",
    "23427",
    "23427\n",
    "23427-1",
    "-1",
    "٣",
    "pl_brahms-1",
    "a" * 64,
    "a" * 65,
    "a" * 200,
    "a" * 201,
    "a" * 500,
    "a" * 501,
    "a" * 1000,
    "a" * 1001,
    "concert",
    "film",
    "work",
    [],
    ["x"],
    {},
    {"published": 1},
    {"title": "Titel"},
    {"title": "Titel", "short_title": "Kurz"},
    {"title": ""},
    {"overview": None},
    {"de": {"title": "T"}},
    {"fr": {"title": "T"}},
]


def put(record: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any] | None:
    """A copy of ``record`` with ``value`` at ``path`` (removed if MISSING); None if no parent."""
    changed = copy.deepcopy(record)
    parent: Any = changed
    for key in path[:-1]:
        if not isinstance(parent, dict) or not isinstance(parent.get(key), dict):
            return None
        parent = parent[key]
    if value is MISSING:
        if path[-1] not in parent:
            return None
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(value)
    return changed


@functools.lru_cache
def validator(languages: tuple[str, ...], default: str) -> Draft202012Validator:
    return Draft202012Validator(catalogue_schema())


def schema_accepts(document: Any) -> bool:
    return validator(tuple(app_settings.LANGUAGES), app_settings.DEFAULT_LANGUAGE).is_valid(
        document
    )


def importer_accepts(document: Any) -> bool:
    try:
        import_catalogue(document)
    except CatalogueImportError:
        return False
    return True


def verdicts_differ(documents: list[Any]) -> list[tuple[str, bool, bool]]:
    differ = []
    for document in documents:
        by_schema, by_importer = schema_accepts(document), importer_accepts(document)
        if by_schema != by_importer:
            differ.append((json.dumps(document)[:200], by_schema, by_importer))
    return differ


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    packaged = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))

    Draft202012Validator.check_schema(packaged)
    assert packaged["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    # With the default settings the site's schema is the packaged file.
    assert catalogue_schema() == packaged


@pytest.mark.parametrize("item_type", sorted(BASES))
def test_schema_and_importer_agree_on_every_mutation(item_type: str) -> None:
    base = BASES[item_type]
    documents: list[Any] = [[base]]
    for path in PATHS:
        for value in PALETTE:
            record = put(base, path, value)
            if record is not None:
                documents.append([record])
    accepted = [document for document in documents if schema_accepts(document)]

    assert verdicts_differ(documents) == []
    # Both verdicts occur, so the comparison says something.
    assert 20 < len(accepted) < len(documents) - 100


def test_a_film_or_playlist_field_that_does_not_apply_is_refused_by_both() -> None:
    documents = [
        [{**BASES["film"], "short_title": "Guardians"}],
        [{**BASES["film"], "date": {"published": 1463558400, "begin": 1463558400}}],
        [{**BASES["playlist"], "translations": {"de": {"title": "T", "short_title": "K"}}}],
    ]

    assert [schema_accepts(document) for document in documents] == [False, False, False]
    assert [importer_accepts(document) for document in documents] == [False, False, False]
    assert CatalogueItem.objects.count() == 0


@pytest.mark.parametrize(
    "document",
    [None, {}, "[]", 1, [None], [[]], ["301"], [], list(BASES.values())],
)
def test_schema_and_importer_agree_on_whole_documents(document: Any) -> None:
    assert verdicts_differ([document]) == []


# Valid by the schema, refused by the importer: the rules JSON Schema cannot state.
BEYOND_SCHEMA = {
    "an id twice": [BASES["film"], BASES["film"]],
    "an id twice, once as a number": [BASES["film"], {**BASES["film"], "id": 301}],
}


@pytest.mark.parametrize("name", sorted(BEYOND_SCHEMA))
def test_the_rules_beyond_json_schema_are_the_importers(name: str) -> None:
    document = BEYOND_SCHEMA[name]

    assert schema_accepts(document)
    with pytest.raises(CatalogueImportError, match="id repeats record 1"):
        import_catalogue(document)


@override_settings(DCH_FAVOURITES={"LANGUAGES": ["en", "de", "fr"], "DEFAULT_LANGUAGE": "de"})
def test_the_sites_schema_lists_the_sites_translation_languages() -> None:
    documents = [
        [{**BASES["film"], "translations": {language: {"title": "T"}}}]
        for language in ("en", "de", "fr", "it")
    ]

    translations = catalogue_schema()["$defs"]["item"]["properties"]["translations"]
    assert translations["propertyNames"]["enum"] == ["en", "fr"]
    assert [schema_accepts(document) for document in documents] == [True, False, True, False]
    assert verdicts_differ(documents) == []


def schema_fields(schema: dict[str, Any]) -> set[str]:
    item = schema["$defs"]["item"]["properties"]
    translation = schema["$defs"]["translation"]["properties"]
    fields = set()
    for name, value in item.items():
        fields.add(name)
        fields.update(f"{name}.{inner}" for inner in value.get("properties", {}))
    fields.update(f"translations.<language>.{inner}" for inner in translation)
    return fields


def test_the_docs_table_documents_every_field_of_the_schema() -> None:
    rows = re.findall(r"^\| `([^`]+)` \|", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE)

    assert sorted(rows) == sorted(schema_fields(catalogue_schema()))
    assert len(rows) == len(set(rows))


def json_blocks(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)]


def test_the_documented_examples_are_valid_and_import() -> None:
    blocks = json_blocks(DOCS) + json_blocks(ROOT / "README.md")
    examples = [block for block in blocks if isinstance(block, list)]

    assert examples
    for example in examples:
        assert schema_accepts(example)
        assert importer_accepts(example)


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "tests" / "data" / "spec_items.json",
        ROOT / "example_project" / "demo_site" / "demo_catalogue.json",
    ],
)
def test_the_shipped_catalogues_are_valid(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))

    assert schema_accepts(document)
    assert importer_accepts(document)
