"""The favourites document, the catalogue item and the change request, as DRF serializers.

The declared fields are the wire format, defined once: they drive the columns the read
path selects (a field's ``source`` names an item field or a
:data:`~dch_favourites.documents.DERIVED_SOURCES` entry), the body, the ETag's format part
and drf-spectacular's schema. Each entry layout is a serializer of its own;
:data:`ENTRY_LAYOUTS` says which type has which. A list of up to
``MAX_FAVOURITES_PER_USER`` entries is the hot path: :class:`EntryPlan` reads the declared
fields once and builds each entry from a row in a few dict operations (a test holds it to
DRF's own output for every type).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from django.utils.translation import gettext_lazy
from rest_framework import serializers

from dch_favourites.api.errors import excerpt
from dch_favourites.conf import app_settings
from dch_favourites.models import ITEM_ID_PATTERN, ItemType

# The read side: the favourites document and the catalogue item.


class HrefField(serializers.CharField):
    """``<API base>/<type>/<id>`` of an item; needs ``base_url`` in the context."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Mapping[str, Any]) -> str:  # type: ignore[override]
        return f"{self.context['base_url']}/{value['type']}/{value['id']}"


class OptionalTextField(serializers.CharField):
    """Text, or null when there is none (an empty value is sent as null, as the original did)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) if value else None


class PublishedDateSerializer(serializers.Serializer[Any]):
    """When a film or playlist was published."""

    published = serializers.IntegerField(min_value=0, help_text="Unix seconds.")


class EventDateSerializer(PublishedDateSerializer):
    """When a concert (or the concert a work or interview belongs to) was published and began."""

    begin = serializers.IntegerField(
        min_value=0, allow_null=True, help_text="Unix seconds; null when not known."
    )


class ImageSerializer(serializers.Serializer[Any]):
    """The item's images: URL templates with the literal placeholders ``{width}x{height}``."""

    overview = OptionalTextField(source="overview_image", help_text="null when there is none.")
    detail = OptionalTextField(source="detail_image", help_text="null when there is none.")


class ItemTypeField(serializers.ChoiceField):
    """An entry's ``type``: one of the catalogue types that share the entry's layout."""


class EventEntrySerializer(serializers.Serializer[Any]):
    """A concert, or a work or interview of a concert: with ``short_title`` and ``date.begin``."""

    href = HrefField(
        help_text="Protocol-relative URL of the item's resource, <API base>/<type>/<id>; the "
        "API base is the site's API_BASE_URL, or //<host><mount> of the request."
    )
    updated = serializers.IntegerField(
        min_value=0, help_text="Unix seconds of the item's last change."
    )
    id = serializers.CharField()
    title = serializers.CharField()
    short_title = OptionalTextField(help_text="null when there is none.")
    is_free = serializers.BooleanField()
    date = EventDateSerializer(source="*")
    image = ImageSerializer(source="*")
    type = ItemTypeField(
        choices=[ItemType.CONCERT.value, ItemType.WORK.value, ItemType.INTERVIEW.value]
    )


class FilmEntrySerializer(EventEntrySerializer):
    """A film or a playlist: no ``short_title`` and no ``date.begin``, as the original sent it."""

    # A field set to None is left out; a field declared again keeps its place (DRF).
    short_title = None  # type: ignore[assignment]
    date = PublishedDateSerializer(source="*")  # type: ignore[assignment]
    type = ItemTypeField(choices=[ItemType.FILM.value, ItemType.PLAYLIST.value])


#: The entry layout of each catalogue type, as the layouts' ``type`` choices say.
ENTRY_LAYOUTS: dict[str, type[serializers.Serializer[Any]]] = {
    str(item_type): layout
    for layout in (EventEntrySerializer, FilmEntrySerializer)
    for item_type in cast(ItemTypeField, layout().fields["type"]).choices
}


class EntryBuilder:
    """Builds one layout's entry (or a nested part of it) from a row of the plan's columns."""

    def __init__(self, fields: Mapping[str, Any], columns: list[str]) -> None:
        self.keys = list(fields)
        self.href: str | None = None
        self.converted: list[tuple[str, Callable[[Any], Any]]] = []
        self.nested: list[tuple[str, EntryBuilder]] = []
        indexes: list[int] = []
        for name, field in fields.items():
            indexes.append(0)  # the link and nested parts are set after
            if isinstance(field, serializers.Serializer) and field.source == "*":
                self.nested.append((name, EntryBuilder(field.fields, columns)))
            elif isinstance(field, HrefField):
                self.href = name
            else:
                if field.source not in columns:
                    columns.append(field.source)
                indexes[-1] = columns.index(field.source)
                # A stored value becomes the wire's as `field.to_representation` makes it;
                # plain text, integers and choices come from the database as the wire has them.
                if isinstance(field, serializers.BooleanField):
                    self.converted.append((name, bool))  # SQLite's rows have 0 and 1
                elif type(field) is not serializers.CharField and not isinstance(
                    field, (serializers.IntegerField, serializers.ChoiceField)
                ):
                    self.converted.append((name, field.to_representation))
        self.values: Callable[[Sequence[Any]], Any] = (
            operator.itemgetter(*indexes) if len(indexes) > 1 else lambda row: (row[indexes[0]],)
        )

    def build(self, row: Sequence[Any], href: str) -> dict[str, Any]:
        """The entry (keys in declared order) for ``row``; ``href`` is the item's link."""
        data = dict(zip(self.keys, self.values(row), strict=True))
        if self.href is not None:
            data[self.href] = href
        for name, convert in self.converted:
            if (value := data[name]) is not None:
                data[name] = convert(value)
        for name, builder in self.nested:
            data[name] = builder.build(row, href)
        return data


@dataclass(frozen=True)
class EntryPlan:
    """The entry layouts compiled from their declared fields, and the columns they read.

    ``columns`` are the fields' sources, the read path's column names; ``id`` and
    ``type`` come first (every entry's link is made of them).
    """

    columns: tuple[str, ...]
    builders: dict[str, EntryBuilder]
    format: str

    def entries(self, rows: Iterable[Sequence[Any]], base_url: str) -> list[dict[str, Any]]:
        """The entries of ``rows`` (in :attr:`columns` order), newest first as given."""
        builders = self.builders
        return [builders[row[1]].build(row, f"{base_url}/{row[1]}/{row[0]}") for row in rows]

    def row_mapping(self, row: Sequence[Any]) -> dict[str, Any]:
        """A row as DRF's declared fields read it: column name to value."""
        return dict(zip(self.columns, row, strict=True))


def entry_plan() -> EntryPlan:
    """The plan of the current :data:`ENTRY_LAYOUTS` (made once per set of layouts)."""
    return _plan(tuple(ENTRY_LAYOUTS.items()))


@cache
def _plan(layouts: tuple[tuple[str, type[serializers.Serializer[Any]]], ...]) -> EntryPlan:
    columns = ["id", "type"]
    builders = {item_type: EntryBuilder(layout().fields, columns) for item_type, layout in layouts}
    # DRF's repr of a serializer lists its fields with their classes and arguments.
    declared = repr([(item_type, layout()) for item_type, layout in layouts])
    digest = hashlib.blake2b(f"{columns}{declared}".encode(), digest_size=6).hexdigest()
    return EntryPlan(tuple(columns), builders, digest)


class EntriesField(serializers.Field[Any, Any, list[dict[str, Any]], Any]):
    """Entries of any type, each in the layout :data:`ENTRY_LAYOUTS` gives its type.

    Serializes rows of :func:`entry_plan`'s columns; needs ``base_url`` in the context.
    """

    def to_representation(self, value: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
        return entry_plan().entries(value, self.context["base_url"])


@dataclass(frozen=True)
class FavouritesDocument:
    """What the favourites body is made of: the list's ``updated`` and its entry rows.

    ``rows`` are tuples of :func:`entry_plan`'s columns, newest first.
    """

    updated: int
    rows: Sequence[Sequence[Any]]


class FavouriteLinksSerializer(serializers.Serializer[FavouritesDocument]):
    """The list's links: its entries, newest first."""

    favourites = EntriesField(source="rows")


class FavouritesSerializer(serializers.Serializer[FavouritesDocument]):
    """The listener's favourites, newest first: the whole list, no pagination.

    `updated` is the time of the list's last change (0 for a listener who never had a
    favourite).
    """

    # Needs `base_url` in the context, for the entries' links.
    updated = serializers.IntegerField(min_value=0, help_text="Unix seconds.")
    _links = FavouriteLinksSerializer(source="*")


class SelfLinkSerializer(serializers.Serializer[Any]):
    """A link to the resource itself."""

    href = HrefField(help_text="The same URL as the entry's href.")


class ItemLinksSerializer(serializers.Serializer[Any]):
    """The item's links."""

    # The HAL key is `self`, a valid (if unusual) class attribute name.
    self = SelfLinkSerializer(source="*")


class ItemExtrasSerializer(serializers.Serializer[Any]):
    """What an item resource adds to its favourites entry."""

    _links = ItemLinksSerializer(source="*")
    favourited = serializers.BooleanField(
        required=False,
        help_text="Whether the item is on the list of the token's listener; only when a "
        "listener's token was sent.",
    )


class EventItemSerializer(EventEntrySerializer, ItemExtrasSerializer):
    """A concert, work or interview: its favourites entry plus ``_links.self``."""


class FilmItemSerializer(FilmEntrySerializer, ItemExtrasSerializer):
    """A film or playlist: its favourites entry plus ``_links.self``."""


#: The item layout of each entry layout.
ITEM_LAYOUTS: dict[type[serializers.Serializer[Any]], type[serializers.Serializer[Any]]] = {
    EventEntrySerializer: EventItemSerializer,
    FilmEntrySerializer: FilmItemSerializer,
}


class CatalogueItemSerializer(serializers.BaseSerializer[Mapping[str, Any]]):
    """One catalogue item: its favourites entry plus ``_links.self`` (and ``favourited``).

    Serializes a row mapping (:meth:`EntryPlan.row_mapping`, with ``favourited`` for a
    listener) in its type's item layout; needs ``base_url`` in the context.
    """

    def to_representation(self, instance: Mapping[str, Any]) -> dict[str, Any]:
        entry_layout = ENTRY_LAYOUTS[instance["type"]]
        layout = ITEM_LAYOUTS.get(entry_layout, entry_layout)
        return dict(layout(instance, context=self.context).data)


# The write side: POST action=add|delete|remove&id=...


@dataclass(frozen=True)
class FavouriteChange:
    """A validated POST: the action and the ids it applies to, in order, without repeats."""

    action: str
    item_ids: tuple[str, ...]


MISSING_ACTION = gettext_lazy("Missing parameter 'action': use add or delete.")
MISSING_ACTION_JSON_HINT = gettext_lazy(
    "Missing parameter 'action': use add or delete. The body looks like JSON: "
    "send it with Content-Type: application/json."
)
WRONG_SHAPE = gettext_lazy("The request body must be an object with 'action' and 'id'.")
MISSING_ID = gettext_lazy("Missing parameter 'id'.")

# Stands for a form field given more than once; a JSON value can never be it.
REPEATED = object()


class ActionField(serializers.ChoiceField):
    """``add``, ``delete`` or ``remove``, given once, case-sensitive; ``remove`` reads as delete."""

    default_error_messages = {
        "required": MISSING_ACTION,
        "null": MISSING_ACTION,
        "repeated": gettext_lazy("Parameter 'action' must be given once."),
        "not_a_string": gettext_lazy("Parameter 'action' must be a string: add or delete."),
        "blank": gettext_lazy("Parameter 'action' is blank: use add or delete."),
        "invalid_choice": gettext_lazy("Unknown action '%(action)s': use add or delete."),
    }

    def __init__(self, **kwargs: Any) -> None:
        choices = [
            ("add", "add the ids"),
            ("delete", "delete the ids"),
            ("remove", "the same as delete"),
        ]
        super().__init__(choices, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if data is REPEATED:
            self.fail("repeated")
        if not isinstance(data, str):
            self.fail("not_a_string")
        if not data.strip():
            self.fail("blank")
        if data not in self.choices:
            raise serializers.ValidationError(
                str(self.error_messages["invalid_choice"]) % {"action": excerpt(data, 40)},
                code="invalid_choice",
            )
        return "delete" if data == "remove" else data


class ItemIdField(serializers.CharField):
    """One catalogue id: 1 to 64 letters, digits, ``-`` or ``_``, a letter or digit first."""

    default_error_messages = {
        "blank": gettext_lazy("Parameter 'id' is blank."),
        "invalid": gettext_lazy(
            "Invalid id '%(id)s': an id is 1 to 64 letters, digits, '-' or '_'."
        ),
    }

    def __init__(self, **kwargs: Any) -> None:
        # Not trimmed: " 301" is not an id, and the message says so.
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = str(data)
        if not value.strip():
            self.fail("blank")
        if not ITEM_ID_PATTERN.match(value):
            raise serializers.ValidationError(
                str(self.error_messages["invalid"]) % {"id": excerpt(value, 40)}, code="invalid"
            )
        return value


class ItemIdsField(serializers.ListField):
    """One id or several: a repeated form field, a JSON list, or a single JSON value.

    At most ``MAX_IDS_PER_REQUEST`` (read when the field is made, i.e. per request); a JSON
    id may also be a non-negative integer. The first bad id answers, numbered from 1.
    """

    default_error_messages = {
        "required": MISSING_ID,
        "null": MISSING_ID,
        "empty": MISSING_ID,
        "max_length": gettext_lazy("Too many ids: at most %(limit)d per request."),
        "not_a_string": gettext_lazy("Parameter 'id' number %(position)d must be a string."),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=ItemIdField(), allow_empty=False, **kwargs)
        # Checked before the ids themselves (ListField's own validator runs after them).
        self.max_length = int(app_settings.MAX_IDS_PER_REQUEST)

    def to_internal_value(self, data: Any) -> list[Any]:
        values = data if isinstance(data, list) else [data]
        if not values:
            self.fail("empty")
        limit = self.max_length
        if limit is not None and len(values) > limit:
            raise serializers.ValidationError(
                str(self.error_messages["max_length"]) % {"limit": limit}, code="max_length"
            )
        cleaned: list[Any] = []
        for position, value in enumerate(values, start=1):
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                value = str(value)
            elif not isinstance(value, str):
                raise serializers.ValidationError(
                    str(self.error_messages["not_a_string"]) % {"position": position},
                    code="not_a_string",
                )
            cleaned.append(self.child.run_validation(value))
        return cleaned


class FavouriteChangeSerializer(serializers.Serializer[FavouriteChange]):
    """`action` applied to every `id` at once; `remove` means `delete`.

    `id` may be repeated (`id=a&id=b`, or a JSON list). One unknown id refuses the whole
    request.
    """

    # Read from a form, multipart or JSON body; `validated_data` is a FavouriteChange.
    default_error_messages = {"invalid": WRONG_SHAPE, "null": WRONG_SHAPE}

    action = ActionField()
    id = ItemIdsField()

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            # DRF words a null body "No data provided"; to the client it is the wrong shape.
            raise serializers.ValidationError(
                {"non_field_errors": [self.error_messages["null"]]}, code="null"
            )
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "getlist"):
            actions, ids = data.getlist("action"), data.getlist("id")
            # A JSON body sent as a form decodes to one field named by the whole body: its
            # first field name opens an object or a list.
            if not actions and next(iter(data), "").lstrip().startswith(("{", "[")):
                raise serializers.ValidationError({"action": [MISSING_ACTION_JSON_HINT]})
            # The fields as a JSON body has them: `id` a list, `action` once or REPEATED.
            data = {}
            if actions:
                data["action"] = actions[0] if len(actions) == 1 else REPEATED
            if ids:
                data["id"] = ids
        return super().to_internal_value(data)

    def validate(self, attrs: Any) -> FavouriteChange:
        return FavouriteChange(attrs["action"], tuple(dict.fromkeys(attrs["id"])))

    def is_valid(self, *, raise_exception: bool = False) -> bool:
        valid = super().is_valid()
        if not valid and raise_exception:
            # One message, the first fault found (`action` before `id`), not a dict per field.
            raise serializers.ValidationError(next(iter(self.errors.values()))[0])
        return valid
