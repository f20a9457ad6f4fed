"""The token endpoint under the API's mount, JSON whatever happens, and the JWKS document."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError, ProgrammingError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import JwksInfoView
from oauth2_provider.views import TokenView as ToolkitTokenView
from oauth2_provider.views.mixins import OIDCOnlyMixin

from dch_favourites.api.errors import missing_table

logger = logging.getLogger("dch_favourites")

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: Token parameters that may be repeated: RFC 8707's ``resource`` (RFC 6749 §3.2 forbids
#: repeating any other).
REPEATABLE_PARAMETERS = {"resource"}


def token_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> HttpResponse:
    """An RFC 6749 §5.2 error body."""
    body = {"error": error, "error_description": description}
    return JsonResponse(body, status=status, headers={**(headers or {}), **NO_STORE})


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class TokenView(ToolkitTokenView):  # type: ignore[misc]
    """django-oauth-toolkit's token endpoint, so every grant, validator and setting of the
    toolkit applies. Every answer is JSON (RFC 6749 §5.1, §5.2) with ``Cache-Control:
    no-store``: the toolkit's, a wrong method (405), a body too large (413), a body Django
    cannot read or a repeated parameter (400), a database down or without a table (503 with
    ``Retry-After``), an unexpected error (500, logged, never sent).
    """

    http_method_names = ["post", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response: HttpResponse = super().dispatch(request, *args, **kwargs)
        except (OperationalError, InterfaceError, ProgrammingError) as error:
            reason = f"{type(error).__name__}: {str(error).strip()}"
            if isinstance(error, DatabaseError) and missing_table(error):
                reason += " (run `manage.py migrate`)"
            logger.error("Database unavailable at the token endpoint: %s", reason)
            unavailable = "The service is temporarily unavailable."
            return token_error(503, "temporarily_unavailable", unavailable, {"Retry-After": "5"})
        except RequestDataTooBig:
            return token_error(413, "invalid_request", "The request body is too large.")
        except (SuspiciousOperation, MultiPartParserError, BadRequest):
            # Django's own 400s while reading the body: too many fields, a multipart body
            # without a boundary, form data in another charset than UTF-8.
            return token_error(400, "invalid_request", "The request body is malformed.")
        except DatabaseError as error:
            logger.error("Database error at the token endpoint: %s", type(error).__name__)
            return token_error(500, "server_error", "Internal server error.")
        except Exception:
            logger.exception("Unhandled error at the token endpoint")
            return token_error(500, "server_error", "Internal server error.")
        # The toolkit's HttpResponse keeps Django's text/html default where oauthlib
        # set no Content-Type (errors raised outside a grant); the body is JSON.
        response["Content-Type"] = "application/json"
        for name, value in NO_STORE.items():
            response[name] = value
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        params = request.POST
        repeated = [n for n, v in params.lists() if len(v) > 1 and n not in REPEATABLE_PARAMETERS]
        if repeated:
            return token_error(400, "invalid_request", f"Parameter {repeated[0]} is repeated.")
        if params.get("grant_type") == DEVICE_CODE and not params.get("device_code"):
            return token_error(400, "invalid_request", "Request is missing device_code parameter.")
        response: HttpResponse = super().post(request, *args, **kwargs)
        return response

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = HttpResponse(status=204)
        response["Allow"] = "POST, OPTIONS"
        return response

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        refusal = f"The token endpoint accepts POST, not {request.method}."
        return token_error(405, "invalid_request", refusal, {"Allow": "POST, OPTIONS"})


@method_decorator(login_not_required, name="dispatch")
class JwksView(JwksInfoView):  # type: ignore[misc]
    """django-oauth-toolkit's key set (RFC 7517), served whether or not OIDC is enabled."""

    http_method_names = ["get", "head", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The keys verify the access tokens even without OpenID Connect, so the toolkit's
        # OIDCOnlyMixin (a 404 while OIDC_ENABLED is off) is passed over.
        response: HttpResponse = super(OIDCOnlyMixin, self).dispatch(request, *args, **kwargs)
        return response

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        refusal = f"The key set accepts GET, not {request.method}."
        return token_error(405, "invalid_request", refusal, {"Allow": "GET, HEAD"})
