"""The favourites document: HAL-flavoured JSON exactly as the original service sent it.

Entries are built by hand from ``values_list`` rows (see
:meth:`~dch_favourites.models.FavouriteQuerySet.entry_rows`), with keys in the contract's
order. Which keys an entry carries depends on its type and is declared once, in
:data:`ENTRY_LAYOUTS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from rest_framework import serializers

from dch_favourites.api.errors import excerpt
from dch_favourites.conf import app_settings
from dch_favourites.models import ITEM_ID_PATTERN, ItemType
from dch_favourites.services import ListState


@dataclass(frozen=True)
class EntryLayout:
    """The optional keys of an entry: ``short_title`` and ``date.begin``."""

    short_title: bool
    begin: bool


#: Per type, which optional keys its entries carry. Films have neither (as in the
#: contract's example); concerts and their parts carry both, ``null`` when empty.
ENTRY_LAYOUTS: dict[str, EntryLayout] = {
    ItemType.CONCERT: EntryLayout(short_title=True, begin=True),
    ItemType.WORK: EntryLayout(short_title=True, begin=True),
    ItemType.INTERVIEW: EntryLayout(short_title=True, begin=True),
    ItemType.FILM: EntryLayout(short_title=False, begin=False),
    ItemType.PLAYLIST: EntryLayout(short_title=False, begin=False),
}
_LAYOUT_FLAGS = {
    str(key): (layout.short_title, layout.begin) for key, layout in ENTRY_LAYOUTS.items()
}


def entries(rows: Iterable[Sequence[Any]], base_url: str) -> list[dict[str, Any]]:
    """Favourites entries from entry rows, keys in the contract's order.

    The rows' timestamps are already integer Unix seconds (computed by the query). One loop
    over plain tuples: this runs for every entry of every list served.
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
                "is_free": is_free,
            }
        else:
            data = {
                "href": href,
                "updated": updated,
                "id": item_id,
                "title": title,
                "is_free": is_free,
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


@dataclass(frozen=True)
class FavouritesDocument:
    """What the favourites body is made of: the list's state and its entry rows."""

    state: ListState
    rows: Sequence[Sequence[Any]]


class FavouritesSerializer(serializers.BaseSerializer[FavouritesDocument]):
    """``{"updated": ..., "_links": {"favourites": [...]}}``; needs ``base_url`` in the context."""

    def to_representation(self, instance: FavouritesDocument) -> dict[str, Any]:
        base_url = self.context["base_url"]
        return {
            "updated": instance.state.updated,
            "_links": {"favourites": entries(instance.rows, base_url)},
        }


class CatalogueItemSerializer(serializers.BaseSerializer[Sequence[Any]]):
    """One catalogue item: its favourites entry plus ``_links.self`` (and ``favourited``)."""

    def to_representation(self, instance: Sequence[Any]) -> dict[str, Any]:
        data = entry(instance, self.context["base_url"])
        data["_links"] = {"self": {"href": data["href"]}}
        favourited = self.context.get("favourited")
        if favourited is not None:
            data["favourited"] = favourited
        return data


@dataclass(frozen=True)
class FavouriteChange:
    """A validated POST: the action and the ids it applies to, in order, without repeats."""

    action: str
    item_ids: tuple[str, ...]


ACTIONS = ("add", "delete")


class FavouriteChangeSerializer(serializers.BaseSerializer[FavouriteChange]):
    """Reads ``action`` and ``id`` (repeatable) from a form, multipart or JSON body."""

    # A JSON body of ``null`` is a body of the wrong shape like any other non-object.
    default_error_messages = {
        "null": _lazy("The request body must be an object with 'action' and 'id'.")
    }

    def to_internal_value(self, data: Any) -> FavouriteChange:
        if hasattr(data, "getlist"):
            actions: list[Any] = data.getlist("action")
            ids: list[Any] = data.getlist("id")
        elif isinstance(data, dict):
            actions = [] if data.get("action") is None else [data["action"]]
            raw_ids = data.get("id")
            ids = [] if raw_ids is None else raw_ids if isinstance(raw_ids, list) else [raw_ids]
        else:
            raise serializers.ValidationError(
                _("The request body must be an object with 'action' and 'id'.")
            )
        return FavouriteChange(self._action(actions), self._ids(ids))

    def _action(self, actions: list[Any]) -> str:
        if not actions:
            raise serializers.ValidationError(_("Missing parameter 'action': use add or delete."))
        if len(actions) > 1:
            raise serializers.ValidationError(_("Parameter 'action' must be given once."))
        action = actions[0]
        if not isinstance(action, str):
            raise serializers.ValidationError(
                _("Parameter 'action' must be a string: add or delete.")
            )
        if not action.strip():
            raise serializers.ValidationError(_("Parameter 'action' is blank: use add or delete."))
        if action not in ACTIONS:
            raise serializers.ValidationError(
                _("Unknown action '%(action)s': use add or delete.")
                % {"action": excerpt(action, 40)}
            )
        return action

    def _ids(self, ids: list[Any]) -> tuple[str, ...]:
        if not ids:
            raise serializers.ValidationError(_("Missing parameter 'id'."))
        limit = app_settings.MAX_IDS_PER_REQUEST
        if len(ids) > limit:
            raise serializers.ValidationError(
                _("Too many ids: at most %(limit)d per request.") % {"limit": limit}
            )
        cleaned: list[str] = []
        for position, value in enumerate(ids, start=1):
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                value = str(value)
            if not isinstance(value, str):
                raise serializers.ValidationError(
                    _("Parameter 'id' number %(position)d must be a string.")
                    % {"position": position}
                )
            if not value.strip():
                raise serializers.ValidationError(_("Parameter 'id' is blank."))
            if not ITEM_ID_PATTERN.match(value):
                raise serializers.ValidationError(
                    _("Invalid id '%(id)s': an id is 1 to 64 letters, digits, '-' or '_'.")
                    % {"id": excerpt(value, 40)}
                )
            cleaned.append(value)
        return tuple(dict.fromkeys(cleaned))
