"""The favourites document and the change request, declared as DRF serializers.

The serializers declare the wire format field by field, so that drf-spectacular (and a
reader) can see it. Which keys an entry carries depends on its type: each layout is a
serializer of its own (:class:`EventEntrySerializer`, :class:`FilmEntrySerializer`), and
:data:`ENTRY_LAYOUTS` says which type has which.

Reading is the hot path (up to ``MAX_FAVOURITES_PER_USER`` entries per answer), so the
documents are built by :func:`entries`, one loop over the ``values_list`` rows of
:meth:`~dch_favourites.models.FavouriteQuerySet.entry_rows`, with keys in the contract's
order; the declared fields describe what it builds, and a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.fields import empty

from dch_favourites.api.errors import excerpt
from dch_favourites.conf import app_settings
from dch_favourites.models import ITEM_ID_PATTERN, ItemType

# The read side: the favourites document and the catalogue item.


class PublishedDateSerializer(serializers.Serializer[Any]):
    """When a film or playlist was published."""

    published = serializers.IntegerField(min_value=0, help_text="Unix seconds.")


class EventDateSerializer(serializers.Serializer[Any]):
    """When a concert (or the concert a work or interview belongs to) was published and began."""

    published = serializers.IntegerField(min_value=0, help_text="Unix seconds.")
    begin = serializers.IntegerField(
        min_value=0, allow_null=True, help_text="Unix seconds; null when not known."
    )


class ImageSerializer(serializers.Serializer[Any]):
    """The item's images: URL templates with the literal placeholders ``{width}x{height}``."""

    overview = serializers.CharField(allow_null=True, help_text="null when there is none.")
    detail = serializers.CharField(allow_null=True, help_text="null when there is none.")


class ItemTypeField(serializers.ChoiceField):
    """An entry's ``type``: one of the catalogue types that share the entry's layout."""


HREF_HELP = (
    "Protocol-relative URL of the item's resource, <API base>/<type>/<id>; the API base is "
    "the site's API_BASE_URL, or //<host><mount> of the request."
)
UPDATED_HELP = "Unix seconds of the item's last change."


class EventEntrySerializer(serializers.Serializer[Any]):
    """A concert, or a work or interview of a concert: with ``short_title`` and ``date.begin``."""

    href = serializers.CharField(help_text=HREF_HELP)
    updated = serializers.IntegerField(min_value=0, help_text=UPDATED_HELP)
    id = serializers.CharField()
    title = serializers.CharField()
    short_title = serializers.CharField(allow_null=True, help_text="null when there is none.")
    is_free = serializers.BooleanField()
    date = EventDateSerializer()
    image = ImageSerializer()
    type = ItemTypeField(
        choices=[ItemType.CONCERT.value, ItemType.WORK.value, ItemType.INTERVIEW.value]
    )


class FilmEntrySerializer(serializers.Serializer[Any]):
    """A film or a playlist: no ``short_title`` and no ``date.begin``, as the original sent it."""

    href = serializers.CharField(help_text=HREF_HELP)
    updated = serializers.IntegerField(min_value=0, help_text=UPDATED_HELP)
    id = serializers.CharField()
    title = serializers.CharField()
    is_free = serializers.BooleanField()
    date = PublishedDateSerializer()
    image = ImageSerializer()
    type = ItemTypeField(choices=[ItemType.FILM.value, ItemType.PLAYLIST.value])


def _types_of(layout: type[serializers.Serializer[Any]]) -> list[str]:
    field = layout().fields["type"]
    assert isinstance(field, serializers.ChoiceField)
    return [str(choice) for choice in field.choices]


#: The entry layout of each catalogue type.
ENTRY_LAYOUTS: dict[str, type[serializers.Serializer[Any]]] = {
    item_type: layout
    for layout in (EventEntrySerializer, FilmEntrySerializer)
    for item_type in _types_of(layout)
}


def _layout_flags(layout: type[serializers.Serializer[Any]]) -> tuple[bool, bool]:
    fields = layout().fields
    date = fields["date"]
    assert isinstance(date, serializers.Serializer)
    return "short_title" in fields, "begin" in date.fields


# Per type: (has short_title, has date.begin), for the loop of `entries`.
_LAYOUT_FLAGS = {item_type: _layout_flags(layout) for item_type, layout in ENTRY_LAYOUTS.items()}


def entries(rows: Iterable[Sequence[Any]], base_url: str) -> list[dict[str, Any]]:
    """Favourites entries from entry rows, keys in the contract's order.

    The rows' timestamps are already integer Unix seconds (computed by the query), and
    ``is_free`` is anything true or false (SQLite's rows have 0 and 1). One loop over plain
    tuples: this runs for every entry of every list served.
    """
    layouts = _LAYOUT_FLAGS
    built = []
    for (
        item_id,
        item_type,
        title,
        short_title,
        is_free,
        published,
        begin,
        overview,
        detail,
        updated,
    ) in rows:
        has_short_title, has_begin = layouts[item_type]
        href = f"{base_url}/{item_type}/{item_id}"
        if has_short_title:
            data: dict[str, Any] = {
                "href": href,
                "updated": updated,
                "id": item_id,
                "title": title,
                "short_title": short_title or None,
                "is_free": bool(is_free),
            }
        else:
            data = {
                "href": href,
                "updated": updated,
                "id": item_id,
                "title": title,
                "is_free": bool(is_free),
            }
        data["date"] = (
            {"published": published, "begin": begin} if has_begin else {"published": published}
        )
        data["image"] = {"overview": overview or None, "detail": detail or None}
        data["type"] = item_type
        built.append(data)
    return built


def entry(row: Sequence[Any], base_url: str) -> dict[str, Any]:
    """One favourites entry from an entry row (see :func:`entries`)."""
    return entries((row,), base_url)[0]


class EntrySerializer(serializers.BaseSerializer[Sequence[Any]]):
    """An entry of any type, in the layout :data:`ENTRY_LAYOUTS` gives its type.

    Serializes an entry row (:data:`~dch_favourites.models.ENTRY_COLUMNS`); needs
    ``base_url`` in the context.
    """

    def to_representation(self, instance: Sequence[Any]) -> dict[str, Any]:
        return entry(instance, self.context["base_url"])


@dataclass(frozen=True)
class FavouritesDocument:
    """What the favourites body is made of: the list's ``updated`` and its entry rows.

    ``rows`` are tuples in :data:`~dch_favourites.models.ENTRY_COLUMNS` order, newest first.
    """

    updated: int
    rows: Sequence[Sequence[Any]]


class FavouriteLinksSerializer(serializers.Serializer[FavouritesDocument]):
    """The list's links: its entries, newest first."""

    favourites = EntrySerializer(many=True, source="rows")


class FavouritesSerializer(serializers.Serializer[FavouritesDocument]):
    """The listener's favourites, newest first, the whole list (no pagination).

    ``updated`` is the time of the list's last change (0 for a listener who never had a
    favourite). Needs ``base_url`` in the context.
    """

    updated = serializers.IntegerField(min_value=0, help_text="Unix seconds.")
    _links = FavouriteLinksSerializer(source="*")

    def to_representation(self, instance: FavouritesDocument) -> dict[str, Any]:
        # The declared fields would give the same body; this skips their per-field calls.
        return {
            "updated": instance.updated,
            "_links": {"favourites": entries(instance.rows, self.context["base_url"])},
        }


class SelfLinkSerializer(serializers.Serializer[Any]):
    """A link to the resource itself."""

    href = serializers.CharField(help_text="The same URL as the entry's href.")


class ItemLinksSerializer(serializers.Serializer[Any]):
    """The item's links."""

    # The HAL key is `self`, a valid (if unusual) class attribute name.
    self = SelfLinkSerializer()


FAVOURITED_HELP = (
    "Whether the item is on the list of the token's listener; only when a listener's token "
    "was sent."
)


class EventItemSerializer(EventEntrySerializer):
    """A concert, work or interview: its favourites entry plus ``_links.self``."""

    _links = ItemLinksSerializer()
    favourited = serializers.BooleanField(required=False, help_text=FAVOURITED_HELP)


class FilmItemSerializer(FilmEntrySerializer):
    """A film or playlist: its favourites entry plus ``_links.self``."""

    _links = ItemLinksSerializer()
    favourited = serializers.BooleanField(required=False, help_text=FAVOURITED_HELP)


#: The item layout of each entry layout.
ITEM_LAYOUTS: dict[type[serializers.Serializer[Any]], type[serializers.Serializer[Any]]] = {
    EventEntrySerializer: EventItemSerializer,
    FilmEntrySerializer: FilmItemSerializer,
}


class CatalogueItemSerializer(serializers.BaseSerializer[Sequence[Any]]):
    """One catalogue item: its favourites entry plus ``_links.self`` (and ``favourited``).

    Serializes an entry row; needs ``base_url`` in the context, and ``favourited`` (a bool,
    or None to leave the key out).
    """

    def to_representation(self, instance: Sequence[Any]) -> dict[str, Any]:
        data = entry(instance, self.context["base_url"])
        data["_links"] = {"self": {"href": data["href"]}}
        favourited = self.context.get("favourited")
        if favourited is not None:
            data["favourited"] = favourited
        return data


# The write side: POST action=add|delete|remove&id=...


@dataclass(frozen=True)
class FavouriteChange:
    """A validated POST: the action and the ids it applies to, in order, without repeats."""

    action: str
    item_ids: tuple[str, ...]


#: What a validated change does; ``remove`` (the original apps' word) means ``delete``.
ACTIONS = ("add", "delete")
ACTION_SYNONYMS = {"remove": "delete"}

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
            *((synonym, f"the same as {action}") for synonym, action in ACTION_SYNONYMS.items()),
        ]
        super().__init__(choices, **kwargs)

    def get_value(self, dictionary: Mapping[Any, Any]) -> Any:
        getlist = getattr(dictionary, "getlist", None)
        if getlist is None:
            return dictionary.get(self.field_name, empty)
        values = getlist(self.field_name)
        if len(values) > 1:
            return REPEATED
        return values[0] if values else empty

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
        return ACTION_SYNONYMS.get(data, data)


class ItemIdField(serializers.RegexField):
    """One catalogue id: 1 to 64 letters, digits, ``-`` or ``_``, a letter or digit first."""

    default_error_messages = {
        "blank": gettext_lazy("Parameter 'id' is blank."),
        "invalid": gettext_lazy(
            "Invalid id '%(id)s': an id is 1 to 64 letters, digits, '-' or '_'."
        ),
    }

    def __init__(self, **kwargs: Any) -> None:
        # Not trimmed: " 301" is not an id, and the message says so.
        super().__init__(ITEM_ID_PATTERN, trim_whitespace=False, **kwargs)
        self.regex = ITEM_ID_PATTERN

    def to_internal_value(self, data: Any) -> str:
        value = data if isinstance(data, str) else str(data)
        if not value.strip():
            self.fail("blank")
        if not self.regex.match(value):
            # The message quotes the id, so it is built here rather than by the validator.
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

    def get_value(self, dictionary: Mapping[Any, Any]) -> Any:
        getlist = getattr(dictionary, "getlist", None)
        if getlist is None:
            return dictionary.get(self.field_name, empty)
        return getlist(self.field_name) or empty

    def to_internal_value(self, data: Any) -> list[Any]:
        values = data if isinstance(data, list) else [data]
        if not values:
            self.fail("empty")
        limit = self.max_length
        if limit is not None and len(values) > limit:
            raise serializers.ValidationError(
                str(self.error_messages["max_length"]) % {"limit": limit}, code="max_length"
            )
        return self.run_child_validation(values)

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        cleaned: list[Any] = []
        for position, value in enumerate(data, start=1):
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
    """``action`` applied to every ``id`` at once, from a form, multipart or JSON body.

    ``id`` may be repeated (``id=a&id=b``, or a JSON list); one unknown id refuses the
    whole request. ``validated_data`` is a :class:`FavouriteChange`. A refused body raises
    one message, the first fault found (``action`` before ``id``), not a dict per field.
    """

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

    def validate(self, attrs: Any) -> FavouriteChange:
        return FavouriteChange(attrs["action"], tuple(dict.fromkeys(attrs["id"])))

    def is_valid(self, *, raise_exception: bool = False) -> bool:
        valid = super().is_valid()
        if not valid and raise_exception:
            raise serializers.ValidationError(self.first_error())
        return valid

    def first_error(self) -> ErrorDetail:
        """The message the client gets: the first fault of the first field at fault."""
        errors = self.errors
        action = errors.get("action")
        if action and action[0].code == "required" and self.looks_like_json():
            return ErrorDetail(str(MISSING_ACTION_JSON_HINT), code="required")
        detail: Any = errors
        while isinstance(detail, (dict, list)):
            detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
        return ErrorDetail(str(detail), code=getattr(detail, "code", None))

    def looks_like_json(self) -> bool:
        """Whether a form body is JSON sent without a JSON ``Content-Type``.

        Form-decoded, such a body is one field whose name is the whole body, so it is told
        by its first field name (the body's beginning) opening an object or a list.
        """
        data = self.initial_data
        if not hasattr(data, "getlist"):
            return False
        first = next(iter(data), "")
        return isinstance(first, str) and first.lstrip().startswith(("{", "["))
