"""What the client asked for: media type (``Accept``) and language (``Accept-Language``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header
from rest_framework import exceptions, negotiation, renderers
from rest_framework.request import Request
from rest_framework.utils.mediatypes import _MediaType, order_by_precedence

from dch_favourites.conf import app_settings


class HalJSONRenderer(renderers.BaseRenderer):
    """UTF-8 JSON via orjson: keys in the order given, non-ASCII unescaped, no spaces."""

    media_type = "application/hal+json"
    format = "hal"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data)


class JSONRenderer(HalJSONRenderer):
    media_type = "application/json"
    format = "json"


class TextJSONRenderer(HalJSONRenderer):
    media_type = "text/json"
    format = "text-json"


RENDERER_CLASSES = (HalJSONRenderer, JSONRenderer, TextJSONRenderer)


class AcceptNegotiation(negotiation.BaseContentNegotiation):
    """``Accept`` alone picks the renderer; no ``?format=`` or suffix overrides it.

    No header or ``*/*`` gets the first renderer (``application/hal+json``); a header that
    admits none of the three JSON types is refused with 406.
    """

    def select_parser(self, request: Request, parsers: Any) -> Any:
        content_type = request.content_type
        for parser in parsers:
            if _MediaType(parser.media_type).match(_MediaType(content_type)):
                return parser
        return None

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> tuple[Any, str]:
        header = request.META.get("HTTP_ACCEPT", "").strip()
        index = _renderer_for_accept(header, tuple(r.media_type for r in renderers))
        if index is None:
            raise exceptions.NotAcceptable(
                _("Not acceptable: this endpoint serves %(media_types)s.")
                % {"media_types": ", ".join(r.media_type for r in renderers)}
            )
        renderer = renderers[index]
        return renderer, renderer.media_type


@lru_cache(maxsize=256)
def _renderer_for_accept(header: str, media_types: tuple[str, ...]) -> int | None:
    if not header:
        return 0
    accepted = [token.strip() for token in header.split(",") if token.strip()]
    for group in order_by_precedence(accepted):
        for media in group:
            wanted = _MediaType(media)
            if wanted.params.get("q", "1").strip() in {"0", "0.0", "0.00", "0.000"}:
                continue
            for index, media_type in enumerate(media_types):
                if _MediaType(media_type).match(wanted):
                    return index
    return None


def negotiate_language(request: HttpRequest) -> str:
    """The first of ``LANGUAGES`` the ``Accept-Language`` header asks for, else the default."""
    return _language_for(
        request.META.get("HTTP_ACCEPT_LANGUAGE", ""),
        tuple(app_settings.LANGUAGES),
        app_settings.DEFAULT_LANGUAGE,
    )


@lru_cache(maxsize=512)
def _language_for(header: str, languages: tuple[str, ...], default: str) -> str:
    if not header or len(header) > 500:
        return default
    for code, quality in parse_accept_lang_header(header):
        if quality <= 0:  # q=0 means "not this language" (RFC 9110 12.4.2)
            continue
        code = code.lower()
        if code == "*":
            return default
        if code in languages:
            return code
        base = code.split("-")[0]
        if base in languages:
            return base
    return default
