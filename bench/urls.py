"""The example site's URLs plus the floor and the plain-DRF reference of the same endpoint."""

from django.urls import path

from bench import floor, plain_drf
from demo_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [
    path("floor/user/favourites", floor.favourites, name="bench-floor"),
    path("plain-drf/user/favourites", plain_drf.FavouritesView.as_view(), name="bench-plain-drf"),
    *site_urlpatterns,
]
