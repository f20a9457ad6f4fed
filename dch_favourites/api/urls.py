"""URLs of the API; include them under the version prefix, e.g. ``path("v2/", include(...))``."""

from __future__ import annotations

from django.urls import path, re_path

from dch_favourites.api.views import (
    CatalogueItemViewSet,
    FavouritesViewSet,
    ProfileViewSet,
    UnknownPathView,
)
from dch_favourites.oauth2.views import JwksView, TokenView

app_name = "dch_favourites"

urlpatterns = [
    path(
        "user/favourites",
        FavouritesViewSet.as_view({"get": "list", "post": "create"}),
        name="favourites",
    ),
    # Sign-in as the original apps do it (before the item route, which would take them).
    path("user", ProfileViewSet.as_view({"get": "retrieve"}), name="user"),
    path("oauth2/token", TokenView.as_view(), name="token"),
    path("oauth2/jwks", JwksView.as_view(), name="jwks"),
    path(
        "<slug:item_type>/<str:item_id>",
        CatalogueItemViewSet.as_view({"get": "retrieve"}),
        name="catalogue-item",
    ),
    # Last: any other path below the mount (a trailing slash, an unknown segment) is the
    # API's JSON 404, whatever DEBUG and the site's handler404 say.
    re_path(r"^", UnknownPathView.as_view(), name="unknown-path"),
]
