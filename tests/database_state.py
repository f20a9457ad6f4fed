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
