"""The example site's URLs: the API and its OpenAPI docs under /v2/, OAuth2, the admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from dch_favourites.oauth2.views import TokenView

urlpatterns = [
    path("admin/", admin.site.urls),
    # The original service's token endpoint had no trailing slash; it is also at
    # /v2/oauth2/token, where the apps look for it. Both answer JSON, whatever happens.
    path("oauth2/token", TokenView.as_view(), name="token"),
    path("oauth2/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    # The OpenAPI schema and Swagger UI on drf-spectacular-sidecar's static files, no CDN
    # (Redoc is left out: its page loads web fonts from one). Listed before the API, whose
    # /v2/<type>/<id> route would otherwise take /v2/schema/openapi.json.
    path("v2/schema/openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("v2/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("v2/", include("dch_favourites.api.urls")),
]

# Errors raised before a view runs answer in the API's envelope under /v2/.
handler400 = "dch_favourites.api.errors.handler400"
handler404 = "dch_favourites.api.errors.handler404"
handler500 = "dch_favourites.api.errors.handler500"
