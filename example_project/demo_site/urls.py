"""The example site's URLs: the API under /v2/, OAuth2 under /oauth2/, the admin."""

from django.contrib import admin
from django.urls import include, path
from oauth2_provider.views import TokenView

urlpatterns = [
    path("admin/", admin.site.urls),
    # The original service's token endpoint had no trailing slash.
    path("oauth2/token", TokenView.as_view(), name="token"),
    path("oauth2/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("v2/", include("dch_favourites.api.urls")),
]

# Errors raised before a view runs answer in the API's envelope under /v2/.
handler400 = "dch_favourites.api.errors.handler400"
handler404 = "dch_favourites.api.errors.handler404"
handler500 = "dch_favourites.api.errors.handler500"
