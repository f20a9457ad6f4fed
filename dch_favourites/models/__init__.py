"""The app's models, by domain: the catalogue, the favourites, the devices."""

from dch_favourites.models.catalogue import CATALOGUE_STATE_ID as CATALOGUE_STATE_ID
from dch_favourites.models.catalogue import CONCERT_PART_TYPES as CONCERT_PART_TYPES
from dch_favourites.models.catalogue import ITEM_ID_PATTERN as ITEM_ID_PATTERN
from dch_favourites.models.catalogue import CatalogueItem as CatalogueItem
from dch_favourites.models.catalogue import CatalogueItemTranslation as CatalogueItemTranslation
from dch_favourites.models.catalogue import CatalogueState as CatalogueState
from dch_favourites.models.catalogue import ItemType as ItemType
from dch_favourites.models.catalogue import concert_id_of as concert_id_of
from dch_favourites.models.catalogue import default_manager as default_manager
from dch_favourites.models.devices import Device as Device
from dch_favourites.models.devices import DeviceToken as DeviceToken
from dch_favourites.models.favourites import Favourite as Favourite
from dch_favourites.models.favourites import FavouriteListState as FavouriteListState
