"""A snapshot of everything a request could change, to show that a refused one changed nothing."""

from __future__ import annotations

from typing import Any

from oauth2_provider.models import AccessToken

from dch_favourites.models import CatalogueItem, Favourite, FavouriteListState


def database_state(using: str = "default") -> dict[str, Any]:
    """Favourites, list states, catalogue items and tokens, as comparable plain values."""
    return {
        "favourites": sorted(
            Favourite.objects.using(using).values_list("user_id", "item_id", "added")
        ),
        "states": sorted(
            FavouriteListState.objects.using(using).values_list("user_id", "version", "updated")
        ),
        "items": sorted(CatalogueItem.objects.using(using).values_list("id", "type", "updated")),
        "tokens": sorted(
            AccessToken.objects.using(using).values_list("id", "user_id", "scope", "expires")
        ),
    }


def document_clock(user: Any, using: str = "default") -> tuple[int, int, int]:
    """(list version, catalogue version, top-level updated) of a listener's document.

    A change that the document shows moves the first or the second, and the third.
    """
    from dch_favourites.documents import document_state

    state = document_state(user.pk, using)
    return state.list_version, state.catalogue_version, state.updated


def moved(before: tuple[int, int, int], after: tuple[int, int, int]) -> bool:
    """Whether the document moved forward from ``before`` to ``after``."""
    return after[:2] != before[:2] and after[2] > before[2]


def shown_begin(item_id: str) -> int | None:
    """An item's ``begin`` as the API shows it (a part shows its concert's): Unix seconds."""
    from dch_favourites.documents import entry_values

    begin = entry_values("", None, ["begin"])
    return CatalogueItem.objects.filter(pk=item_id).values_list(*begin, flat=True).get()
