"""The example site's URLs: the API and its OpenAPI docs under /v2/, OAuth2, the admin."""

from django.contrib import admin
from django.contrib.auth.decorators import permission_required
from django.urls import URLPattern, include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from oauth2_provider import urls as oauth2_urls

from dch_favourites.oauth2.views import TokenView
from demo_site.forms import AdminLoginForm

admin.site.login_form = AdminLoginForm


def for_application_managers(pattern: URLPattern) -> URLPattern:
    """One of django-oauth-toolkit's management views, for who may add applications.

    The toolkit lets any signed-in user register an application, the device grant
    included; here that is the admin's own permission (superusers have it).
    """
    required = permission_required("oauth2_provider.add_application", raise_exception=True)
    return path(str(pattern.pattern), required(pattern.callback), name=pattern.name)


# django-oauth-toolkit's RFC 8628 device flow is not mounted: the apps sign in with their own
# device grant at the token endpoint, and the toolkit's device-authorization view (3.4.1)
# answers a valid client with a 500 under oauthlib 4.
RFC_8628 = {"device-authorization", "device", "device-confirm", "device-grant-status"}


urlpatterns = [
    path("admin/", admin.site.urls),
    # The original service's token endpoint had no trailing slash; it is also at
    # /v2/oauth2/token, where the apps look for it. All three answer JSON for every grant,
    # whatever happens: the toolkit's own view at oauth2/token/ is not mounted.
    path("oauth2/token", TokenView.as_view(), name="token"),
    path(
        "oauth2/",
        include(
            (
                [
                    # Before the toolkit's own, which they take the place of.
                    path("token/", TokenView.as_view(), name="token"),
                    *map(for_application_managers, oauth2_urls.management_urlpatterns),
                    *(p for p in oauth2_urls.urlpatterns if p.name not in RFC_8628),
                ],
                oauth2_urls.app_name,
            ),
            namespace="oauth2_provider",
        ),
    ),
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
