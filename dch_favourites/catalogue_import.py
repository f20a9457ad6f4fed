"""Reading catalogue items from a JSON list shaped like favourites entries.

``catalogue.schema.json`` beside this module defines the format field by field
(``docs/catalogue-format.md`` has it as a table), and every file is validated with it: a
subschema's ``x-error`` is the message for a value it refuses. The whole file is validated
before anything is written, and written in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import jsonschema
from django.db import router, transaction

from dch_favourites.conf import app_settings
from dch_favourites.models import CatalogueItem, CatalogueItemTranslation, ItemType
from dch_favourites.services import catalogue_batch


def catalogue_schema() -> dict[str, Any]:
    """The JSON Schema of a catalogue file, listing this site's translation languages.

    Ids repeated in one file are refused by the importer alone: JSON Schema cannot compare
    one item's field with another's.
    """
    text = (files("dch_favourites") / "catalogue.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    others = [code for code in app_settings.LANGUAGES if code != app_settings.DEFAULT_LANGUAGE]
    schema["$defs"]["item"]["properties"]["translations"]["propertyNames"]["enum"] = others
    return schema


class CatalogueImportError(Exception):
    """A record that cannot be imported; ``position`` counts from 1."""

    def __init__(self, position: int, item_id: Any, reason: str) -> None:
        self.position, self.item_id, self.reason = position, item_id, reason
        label = f" (id {item_id!r})" if isinstance(item_id, str) else ""
        super().__init__(f"Record {position}{label}: {reason}" if position else reason)


@dataclass
class ImportResult:
    """How many records were created, updated, or already as given; their ids."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[str] = field(default_factory=list)


def import_catalogue(records: Any) -> ImportResult:
    """Create or update the items of ``records`` (a decoded JSON list), all or nothing."""
    # The first error is in the first bad record: `items` is checked in order.
    error = next(jsonschema.Draft202012Validator(catalogue_schema()).iter_errors(records), None)
    if error is not None:
        raise _refusal(records, error)
    by_id: dict[str, tuple[int, dict[str, Any]]] = {}
    for position, record in enumerate(records, start=1):
        # A JSON integer (1.0 is one) stands for its decimal string.
        item_id = record["id"] if isinstance(record["id"], str) else str(int(record["id"]))
        first, _ = by_id.setdefault(item_id, (position, record))
        if first != position:
            raise CatalogueImportError(position, item_id, f"id repeats record {first}")
    # Concerts first: a part's begin comes from its concert, and storing a concert stamps
    # its parts, so the other items are read only once the concerts are in.
    concerts = {key: r for key, (_, r) in by_id.items() if r["type"] == ItemType.CONCERT}
    others = {key: r for key, (_, r) in by_id.items() if r["type"] != ItemType.CONCERT}
    result = ImportResult()
    # Every read and write on the database written to (never a replica that lags), in one
    # transaction that moves the catalogue's clock once.
    db = router.db_for_write(CatalogueItem)
    with transaction.atomic(using=db), catalogue_batch():
        for batch in (concerts, others):
            existing = CatalogueItem.objects.using(db).in_bulk(list(batch))
            for item_id, record in batch.items():
                result.ids.append(item_id)
                if not _store(item_id, record, existing.get(item_id), db):
                    result.unchanged += 1
                elif item_id in existing:
                    result.updated += 1
                else:
                    result.created += 1
    return result


def _store(item_id: str, record: dict[str, Any], current: CatalogueItem | None, db: str) -> bool:
    """Write a record the schema accepted, unless the item is already as it says; whether it did."""
    date, image, texts = record["date"], record.get("image") or {}, record.get("translations")
    fields: dict[str, Any] = {
        "type": record["type"],
        "title": record["title"],
        "short_title": record.get("short_title") or None,
        "is_free": record.get("is_free", False),
        "published": _timestamp(date["published"]),
        "begin": _timestamp(date.get("begin")),
        "overview_image": image.get("overview") or None,
        "detail_image": image.get("detail") or None,
    }
    if record.get("updated") is not None:
        fields["updated"] = _timestamp(record["updated"])
    item = current or CatalogueItem(id=item_id)
    rows = CatalogueItemTranslation.objects.using(db)
    translations = rows.filter(item_id=item_id) if current else rows.none()
    stored = {t.language: (t.title, t.short_title) for t in translations}
    wanted = stored  # left out, the stored translations stay; given, they are replaced
    if texts is not None:
        wanted = {
            lang: (text["title"], text.get("short_title") or None) for lang, text in texts.items()
        }
    changed = current is None or any(getattr(item, k) != v for k, v in fields.items())
    if not changed and wanted == stored:
        return False
    for name, value in fields.items():
        setattr(item, name, value)
    item.save(using=db, keep_updated="updated" in fields)
    if wanted != stored:
        translations.exclude(language__in=list(wanted)).delete()
        for language, (title, short_title) in wanted.items():
            if stored.get(language) != (title, short_title):
                defaults = {"title": title, "short_title": short_title}
                rows.update_or_create(item=item, language=language, defaults=defaults)
        if "updated" in fields:
            # Saving a translation stamps its item; the file's `updated` wins.
            CatalogueItem.objects.using(db).filter(pk=item.pk).update(updated=fields["updated"])
    return True


def _refusal(records: Any, error: jsonschema.ValidationError) -> CatalogueImportError:
    """The error naming the record, the field and the rule that ``error`` broke."""
    if not error.path:
        return CatalogueImportError(0, None, error.schema["x-error"])
    index, *inside = error.path
    record = records[index] if isinstance(records[index], dict) else {}
    if error.validator == "required":
        missing = next(key for key in error.validator_value if key not in error.instance)
        reason = f"'{'.'.join([*inside, missing])}' is required"
    elif error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        # repr: quoted, and a name holding a lone surrogate can still be printed.
        unknown = sorted(
            repr(".".join([*inside, key])) for key in error.instance if key not in known
        )
        reason = f"unknown field {', '.join(unknown)}"
    else:
        expected = error.validator_value if error.validator == "enum" else []
        # Every subschema that can fail has an x-error; this is a fallback, not a traceback.
        template = error.schema.get("x-error", "'{field}' breaks the schema's '{rule}' rule")
        reason = template.format(
            rule=error.validator,
            field=".".join(map(str, inside)),
            type=record.get("type"),
            value=repr(error.instance),
            expected=", ".join(map(str, expected)),
        )
    return CatalogueImportError(index + 1, record.get("id"), reason)


def _timestamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(int(seconds), tz=UTC)
