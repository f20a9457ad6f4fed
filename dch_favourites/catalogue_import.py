"""Reading catalogue items from JSON shaped like favourites entries.

A file is a JSON list of objects::

    [{"id": "23427-1", "type": "work", "title": "...", "short_title": null,
      "is_free": false, "date": {"published": 1472720400, "begin": 1472229000},
      "image": {"overview": "//host/.../{width}x{height}/...jpg", "detail": null},
      "updated": 1475074300,
      "translations": {"de": {"title": "...", "short_title": null}}}]

``catalogue.schema.json`` beside this module describes the format field by field as a
JSON Schema (:func:`catalogue_schema` gives it for the site's languages), and the importer
gives the same verdict on every document. ``href`` is ignored; ``short_title``,
``date.begin``, ``image``, ``updated`` and ``translations`` are optional; any other field,
and a field that does not apply to the type (a film's or playlist's ``short_title`` and
``date.begin``), is refused rather than dropped. A given ``updated`` is kept as the item's
``updated``; without it, a new or changed item is stamped with the time of the import.
``translations`` maps each of the ``LANGUAGES`` other than ``DEFAULT_LANGUAGE`` to that
language's ``title`` (required) and ``short_title`` (optional; the default language's
short title stands in while it is null). When given, it replaces the item's translations
(``{}`` removes them all); when left out, the stored translations stay as they are.
The whole file is validated before anything is written, and written in one transaction.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from django.core.exceptions import ValidationError
from django.db import router, transaction

from dch_favourites.conf import app_settings
from dch_favourites.models import (
    CONCERT_PART_TYPES,
    ITEM_ID_PATTERN,
    CatalogueItem,
    CatalogueItemTranslation,
    ItemType,
    concert_id_of,
)
from dch_favourites.services import catalogue_batch

MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z
ITEM_FIELDS = frozenset(
    {
        "href",
        "id",
        "type",
        "title",
        "short_title",
        "is_free",
        "date",
        "image",
        "updated",
        "translations",
    }
)
DATE_FIELDS = frozenset({"published", "begin"})
IMAGE_FIELDS = frozenset({"overview", "detail"})
TRANSLATION_FIELDS = frozenset({"title", "short_title"})
#: Types without a short title or a begin (the API's entries for them have neither key).
UNDATED_TYPES = frozenset({ItemType.FILM, ItemType.PLAYLIST})


@cache
def _packaged_schema() -> str:
    return (files("dch_favourites") / "catalogue.schema.json").read_text(encoding="utf-8")


def catalogue_schema() -> dict[str, Any]:
    """The JSON Schema of a catalogue file, for this site's ``LANGUAGES``.

    The packaged ``catalogue.schema.json`` lists the default settings' translation
    languages; this copy lists the site's. Ids repeated in one file are refused by the
    importer alone: JSON Schema cannot compare one item's field with another's.
    """
    schema: dict[str, Any] = json.loads(_packaged_schema())
    others = [code for code in app_settings.LANGUAGES if code != app_settings.DEFAULT_LANGUAGE]
    translations = schema["$defs"]["item"]["properties"]["translations"]
    translations["propertyNames"] = {"enum": copy.copy(others)}
    return schema


class CatalogueImportError(Exception):
    """A record that cannot be imported; ``position`` counts from 1."""

    def __init__(self, position: int, item_id: Any, reason: str) -> None:
        self.position, self.item_id, self.reason = position, item_id, reason
        label = f" (id {item_id!r})" if isinstance(item_id, str) else ""
        super().__init__(f"Record {position}{label}: {reason}" if position else reason)


@dataclass
class ImportResult:
    """How many records were created, updated, or already as given."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ItemRecord:
    position: int
    fields: dict[str, Any]
    updated: datetime | None
    #: ``{language: (title, short_title)}``; None leaves the stored translations alone.
    translations: dict[str, tuple[str, str | None]] | None


def import_catalogue(records: Any) -> ImportResult:
    """Create or update the items of ``records`` (a decoded JSON list), all or nothing."""
    if not isinstance(records, list):
        raise CatalogueImportError(0, None, "The file must hold a JSON list of items.")
    parsed = [_parse(position, record) for position, record in enumerate(records, start=1)]
    seen: dict[str, int] = {}
    for position, item in enumerate(parsed, start=1):
        item_id = item.fields["id"]
        if item_id in seen:
            raise CatalogueImportError(position, item_id, f"id repeats record {seen[item_id]}")
        seen[item_id] = position
    # Concerts first: a part's begin comes from its concert, and storing a concert stamps
    # its parts, so the other items are read only once the concerts are in.
    concerts = [item for item in parsed if item.fields["type"] == ItemType.CONCERT]
    others = [item for item in parsed if item.fields["type"] != ItemType.CONCERT]
    result = ImportResult()
    # Every read and write on the database written to (never a replica that lags), in one
    # transaction that moves the catalogue's clock once.
    db = router.db_for_write(CatalogueItem)
    with transaction.atomic(using=db), catalogue_batch():
        for batch in (concerts, others):
            ids = [item.fields["id"] for item in batch]
            existing = CatalogueItem.objects.using(db).in_bulk(ids)
            for item in batch:
                _store(item, existing.get(item.fields["id"]), result, db)
    return result


def _store(
    record: ItemRecord, current: CatalogueItem | None, result: ImportResult, db: str
) -> None:
    item = current or CatalogueItem(id=record.fields["id"])
    translations = CatalogueItemTranslation.objects.using(db).filter(item_id=item.id)
    stored = (
        {t.language: (t.title, t.short_title) for t in translations} if current is not None else {}
    )
    wanted = stored if record.translations is None else record.translations
    changed = (
        current is None
        or any(getattr(item, name) != value for name, value in record.fields.items())
        or (record.updated is not None and item.updated != record.updated)
    )
    translations_changed = wanted != stored
    result.ids.append(item.id)
    if not changed and not translations_changed:
        result.unchanged += 1
        return
    for name, value in record.fields.items():
        setattr(item, name, value)
    if record.updated is not None:
        item.updated = record.updated
    try:
        # `concert` is derived from the id on save and may name a concert not imported yet.
        item.full_clean(exclude=["updated", "concert"], validate_unique=False)
    except ValidationError as exc:
        raise CatalogueImportError(record.position, item.id, "; ".join(exc.messages)) from exc
    item.save(using=db, keep_updated=record.updated is not None)
    if translations_changed:
        translations.exclude(language__in=list(wanted)).delete()
        for language, (title, short_title) in wanted.items():
            if stored.get(language) != (title, short_title):
                CatalogueItemTranslation.objects.using(db).update_or_create(
                    item=item,
                    language=language,
                    defaults={"title": title, "short_title": short_title},
                )
        if record.updated is not None:
            # Saving a translation stamps its item; the file's `updated` wins.
            CatalogueItem.objects.using(db).filter(pk=item.pk).update(updated=record.updated)
    if current is None:
        result.created += 1
    else:
        result.updated += 1


def _parse(position: int, record: Any) -> ItemRecord:
    def fail(reason: str) -> CatalogueImportError:
        item_id = record.get("id") if isinstance(record, dict) else None
        return CatalogueImportError(position, item_id, reason)

    if not isinstance(record, dict):
        raise fail("a record must be a JSON object")
    _known_fields(record, ITEM_FIELDS, "", fail)
    item_id = record.get("id")
    if not isinstance(item_id, str) and (number := _integer(item_id)) is not None:
        item_id = str(number)
    if not isinstance(item_id, str) or not ITEM_ID_PATTERN.match(item_id):
        raise fail("'id' must be a string of 1 to 64 letters, digits, '-' or '_'")
    item_type = record.get("type")
    if item_type not in ItemType.values:
        raise fail(f"'type' must be one of {', '.join(ItemType.values)}")
    if item_type in CONCERT_PART_TYPES and concert_id_of(item_id) is None:
        raise fail(f"a {item_type} id is '<concert id>-<number>'")
    if item_type == ItemType.CONCERT and not item_id.isdigit():
        raise fail("a concert id is a number")
    title = record.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 500 or "\x00" in title:
        raise fail("'title' must be a non-empty string of at most 500 characters")
    if item_type in UNDATED_TYPES:
        date = record.get("date")
        begin_given = date.get("begin") if isinstance(date, dict) else None
        not_applying = (("short_title", record.get("short_title")), ("date.begin", begin_given))
        for name, value in not_applying:
            if value is not None:
                raise fail(f"a {item_type} has no '{name}': leave it out or set it to null")
    short_title = _optional_text(record.get("short_title"), 200, "short_title", fail)
    is_free = record.get("is_free", False)
    if not isinstance(is_free, bool):
        raise fail("'is_free' must be true or false")
    date = record.get("date")
    if not isinstance(date, dict):
        raise fail("'date' must be an object with 'published'")
    _known_fields(date, DATE_FIELDS, "date.", fail)
    published = _timestamp(date.get("published"), "date.published", fail)
    if published is None:
        raise fail("'date.published' is required")
    begin = _timestamp(date.get("begin"), "date.begin", fail)
    image = record.get("image")
    if image is None:
        image = {}
    if not isinstance(image, dict):
        raise fail("'image' must be an object with 'overview' and 'detail', or null")
    _known_fields(image, IMAGE_FIELDS, "image.", fail)
    overview = _optional_text(image.get("overview"), 1000, "image.overview", fail)
    detail = _optional_text(image.get("detail"), 1000, "image.detail", fail)
    updated = _timestamp(record.get("updated"), "updated", fail)
    translations = _translations(record.get("translations"), item_type, fail)
    return ItemRecord(
        position=position,
        fields={
            "id": item_id,
            "type": item_type,
            "title": title,
            "short_title": short_title,
            "is_free": is_free,
            "published": published,
            "begin": begin,
            "overview_image": overview,
            "detail_image": detail,
        },
        updated=updated,
        translations=translations,
    )


def _optional_text(value: Any, limit: int, name: str, fail: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise fail(f"'{name}' must be a string of at most {limit} characters, or null")
    return value or None


def _known_fields(record: dict[Any, Any], known: frozenset[str], prefix: str, fail: Any) -> None:
    unknown = sorted(f"'{prefix}{name}'" for name in record if name not in known)
    if unknown:
        raise fail(f"unknown field {', '.join(unknown)}")


def _integer(value: Any) -> int | None:
    """An integer, as JSON Schema counts them (``1.0`` is one); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _timestamp(value: Any, name: str, fail: Any) -> datetime | None:
    if value is None:
        return None
    seconds = _integer(value)
    if seconds is None or not 0 <= seconds <= MAX_TIMESTAMP:
        raise fail(f"'{name}' must be an integer count of Unix seconds")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _translations(
    value: Any, item_type: str, fail: Any
) -> dict[str, tuple[str, str | None]] | None:
    if value is None:
        return None
    languages: Sequence[str] = app_settings.LANGUAGES
    if not isinstance(value, dict):
        raise fail("'translations' must be an object keyed by language")
    result = {}
    for language, texts in value.items():
        if language not in languages or language == app_settings.DEFAULT_LANGUAGE:
            raise fail(f"translation language {language!r} is not one of the other LANGUAGES")
        if not isinstance(texts, dict):
            raise fail(f"translation {language!r} must be an object with 'title'")
        _known_fields(texts, TRANSLATION_FIELDS, f"translations.{language}.", fail)
        if item_type in UNDATED_TYPES and texts.get("short_title") is not None:
            raise fail(
                f"a {item_type} has no 'translations.{language}.short_title': "
                "leave it out or set it to null"
            )
        title = texts.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > 500 or "\x00" in title:
            raise fail(
                f"translation {language!r} needs a non-empty 'title' of at most 500 characters"
            )
        short_title = _optional_text(
            texts.get("short_title"), 200, f"translations.{language}.short_title", fail
        )
        result[language] = (title, short_title)
    return result
