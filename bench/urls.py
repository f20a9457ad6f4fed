"""The example site's URLs, with the floor, the limit and plain DRF next to the API.

They are inserted just before the site's ``v2/`` include, so every endpoint is reached
after the same patterns and none pays more for URL resolution than another.
"""

from django.urls import path

from bench import floor, limit, plain_drf
from demo_site.urls import handler400, handler404, handler500
from demo_site.urls import urlpatterns as site_urlpatterns

BENCH_PATTERNS = [
    path("floor/user/favourites", floor.favourites, name="bench-floor"),
    path("limit/user/favourites", limit.favourites, name="bench-limit"),
    path("plain-drf/user/favourites", plain_drf.FavouritesView.as_view(), name="bench-plain-drf"),
]

_api = next(i for i, pattern in enumerate(site_urlpatterns) if str(pattern.pattern) == "v2/")
urlpatterns = [*site_urlpatterns[:_api], *BENCH_PATTERNS, *site_urlpatterns[_api:]]

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
