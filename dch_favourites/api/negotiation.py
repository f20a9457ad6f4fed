"""What the client asked for: media type (``Accept``) and language (``Accept-Language``).

The headers are read by the grammar of RFC 9110 (12.5.1, 12.5.4, 12.4.2): a member that
does not follow it is ignored, and a quality of 0 means "not this one".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework import exceptions, negotiation, renderers
from rest_framework.request import Request

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
    admits none of the three JSON types is refused with 406. A request body is parsed only
    when its ``Content-Type`` names one concrete media type a parser reads: a range such as
    ``*/*`` or ``application/*`` names none, and is refused with 415.
    """

    def select_parser(self, request: Request, parsers: Any) -> Any:
        media_type = concrete_media_type(request.content_type)
        if media_type is None:
            return None
        for parser in parsers:
            if parser.media_type == media_type:
                return parser
        return None

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> tuple[Any, str]:
        header = request.META.get("HTTP_ACCEPT", "").strip(_SPACE)
        index = _renderer_for_accept(header, tuple(r.media_type for r in renderers))
        if index is None:
            raise exceptions.NotAcceptable(
                _("Not acceptable: this endpoint serves %(media_types)s.")
                % {"media_types": ", ".join(r.media_type for r in renderers)}
            )
        renderer = renderers[index]
        return renderer, renderer.media_type


_SPACE = " \t"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
_LANGUAGE_RANGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*")
#: Longest ``Accept-Language`` read; a longer one gets the default language.
MAX_ACCEPT_LANGUAGE = 500


def concrete_media_type(content_type: str | None) -> str | None:
    """``type/subtype`` of a ``Content-Type``, lower-case; ``None`` unless one concrete type.

    Parameters (``charset``, ``boundary``) are left to the parser that reads them.
    """
    if not content_type:
        return None
    main = content_type.split(";", 1)[0].strip(_SPACE)
    kind, slash, subtype = main.partition("/")
    if not (slash and _TOKEN.fullmatch(kind) and _TOKEN.fullmatch(subtype)):
        return None
    if "*" in (kind, subtype):
        return None
    return main.lower()


def _weighted(member: str) -> tuple[str, bool, float] | None:
    """A list member's value, whether it had parameters other than ``q``, and its quality.

    ``None`` when the parameters are malformed or the quality is not an RFC 9110 qvalue.
    """
    value, *parameters = member.split(";")
    quality, other = 1.0, False
    for parameter in parameters:
        name, equals, given = parameter.strip(_SPACE).partition("=")
        if not name and not equals:
            continue  # an empty parameter: "text/json;"
        if not (equals and _TOKEN.fullmatch(name)):
            return None
        if name.lower() == "q":
            if not _QVALUE.fullmatch(given):
                return None
            quality = float(given)
        else:
            other = True
    return value.strip(_SPACE), other, quality


def _media_ranges(header: str) -> list[tuple[str, str, int, float]]:
    """The well-formed ranges of an ``Accept`` header: type, subtype, precision, quality."""
    ranges = []
    for member in header.split(","):
        weighted = _weighted(member)
        if weighted is None:
            continue
        value, parameters, quality = weighted
        kind, slash, subtype = value.lower().partition("/")
        if not (slash and _TOKEN.fullmatch(kind) and _TOKEN.fullmatch(subtype)):
            continue
        if kind == "*":
            if subtype != "*":
                continue  # "*/json" is no media range
            precision = 0
        elif subtype == "*":
            precision = 1
        else:
            precision = 3 if parameters else 2
        ranges.append((kind, subtype, precision, quality))
    return ranges


@lru_cache(maxsize=256)
def _renderer_for_accept(header: str, media_types: tuple[str, ...]) -> int | None:
    """Index of the media type the header prefers, ``None`` when it admits none.

    Each type takes the quality of the most precise range that matches it; the highest
    quality above 0 wins, and among equals the server's order decides.
    """
    if not header:
        return 0
    ranges = _media_ranges(header)
    chosen, best = None, 0.0
    for index, media_type in enumerate(media_types):
        kind, _slash, subtype = media_type.partition("/")
        precision, quality = -1, 0.0
        for range_kind, range_subtype, range_precision, range_quality in ranges:
            matches = range_kind == "*" or (range_kind == kind and range_subtype in ("*", subtype))
            if matches and range_precision > precision:
                precision, quality = range_precision, range_quality
        if quality > best:
            chosen, best = index, quality
    return chosen


def negotiate_language(request: HttpRequest) -> str:
    """The first of ``LANGUAGES`` the ``Accept-Language`` header asks for, else the default."""
    return _language_for(
        request.META.get("HTTP_ACCEPT_LANGUAGE", ""),
        tuple(app_settings.LANGUAGES),
        app_settings.DEFAULT_LANGUAGE,
    )


@lru_cache(maxsize=512)
def _language_for(header: str, languages: tuple[str, ...], default: str) -> str:
    if not header or len(header) > MAX_ACCEPT_LANGUAGE:
        return default
    wanted: list[tuple[float, int, str]] = []
    refused: set[str] = set()
    for position, member in enumerate(header.split(",")):
        weighted = _weighted(member)
        if weighted is None or weighted[1] or not _LANGUAGE_RANGE.fullmatch(weighted[0]):
            continue
        tag, _parameters, quality = weighted
        if quality > 0:
            wanted.append((-quality, position, tag.lower()))
        else:
            refused.add(tag.lower())
    configured = {code.lower(): code for code in languages}
    for _quality, _position, tag in sorted(wanted):
        if tag == "*":
            # Any language not refused by name, the default first.
            for code in (default, *languages):
                if code.lower() not in refused:
                    return code
            return default
        for code in (tag, tag.split("-")[0]):
            if code in configured and code not in refused:
                return configured[code]
    return default
