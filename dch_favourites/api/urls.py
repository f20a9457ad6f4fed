"""URLs of the API; include them under the version prefix, e.g. ``path("v2/", include(...))``."""

from __future__ import annotations

from django.urls import path

from dch_favourites.api.views import CatalogueItemViewSet, FavouritesViewSet

app_name = "dch_favourites"

urlpatterns = [
    path(
        "user/favourites",
        FavouritesViewSet.as_view({"get": "list", "post": "create"}),
        name="favourites",
    ),
    path(
        "<slug:item_type>/<str:item_id>",
        CatalogueItemViewSet.as_view({"get": "retrieve"}),
        name="catalogue-item",
    ),
]
