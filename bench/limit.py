"""The limit: the least a site on django-oauth-toolkit can do for a cached ``GET``.

The bearer token is judged exactly as DOT's ``OAuth2Authentication`` judges it on every
request: ``get_oauthlib_core()`` builds the site's configured ``OAUTH2_VALIDATOR_CLASS``,
``OAUTH2_SERVER_CLASS`` and ``OAUTH2_BACKEND_CLASS``, and ``verify_request`` checks the
token (with DOT's read scope) through the validator's ``validate_bearer_token``. Then the
listener's document comes from the app's document cache (the same alias and timeout),
stored there under the limit's own key the first time it is asked for, and goes out as
a plain ``HttpResponse``: no DRF, no list state, no validators, no negotiation.

The first body is the floor's rendering, which the benchmark asserts is the app's, byte
for byte. The limit serves GET of an unchanged list only (server mode): a change to the
list is not seen until the cache is emptied.
"""

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.settings import oauth2_settings

from bench import floor
from dch_favourites.conf import app_settings
from dch_favourites.models import FavouriteListState

KEY = "dch_favourites_bench:limit:{}"


def document(user_id: int) -> bytes:
    """The listener's document as the floor renders it (only on the limit's first GET)."""
    state = FavouriteListState.objects.filter(user_id=user_id).first()
    version, updated = (state.version, state.updated) if state else (0, 0)
    return floor.document(user_id, version, updated).content


def favourites(request: HttpRequest) -> HttpResponse:
    """GET: DOT's token check, then the cached document."""
    scopes = [oauth2_settings.READ_SCOPE]
    valid, checked = get_oauthlib_core().verify_request(request, scopes=scopes)
    user = checked.user if valid else None
    if user is None or not user.is_active:
        return HttpResponse(b'{"message":"A Token was not found in the TokenStorage."}', status=401)
    cache = caches[app_settings.DOCUMENT_CACHE or "default"]
    key = KEY.format(user.pk)
    body = cache.get(key)
    if body is None:
        body = document(user.pk)
        cache.set(key, body, timeout=app_settings.DOCUMENT_CACHE_TIMEOUT)
    return HttpResponse(body, content_type=floor.CONTENT_TYPE)
