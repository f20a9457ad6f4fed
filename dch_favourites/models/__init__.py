"""The app's models, by domain: the catalogue, the favourites, the devices."""

from dch_favourites.models.catalogue import (
    CATALOGUE_STATE_ID,
    CONCERT_PART_TYPES,
    ITEM_ID_PATTERN,
    CatalogueItem,
    CatalogueItemTranslation,
    CatalogueState,
    ItemType,
    concert_id_of,
    default_manager,
)
from dch_favourites.models.devices import Device, DeviceToken
from dch_favourites.models.favourites import Favourite, FavouriteListState

__all__ = [
    "CATALOGUE_STATE_ID",
    "CONCERT_PART_TYPES",
    "ITEM_ID_PATTERN",
    "CatalogueItem",
    "CatalogueItemTranslation",
    "CatalogueState",
    "Device",
    "DeviceToken",
    "Favourite",
    "FavouriteListState",
    "ItemType",
    "concert_id_of",
    "default_manager",
]
