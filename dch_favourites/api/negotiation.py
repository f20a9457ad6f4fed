"""What the client asked for: media type (``Accept``) and language (``Accept-Language``).

The headers are read by the grammar of RFC 9110 (12.5.1, 12.5.4, 12.4.2): a member that
does not follow it is ignored, and a quality of 0 means "not this one".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework import exceptions, negotiation, renderers
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.utils.mediatypes import media_type_matches

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
        return b"" if data is None else orjson.dumps(data)


class JSONRenderer(HalJSONRenderer):
    media_type = "application/json"
    format = "json"


class TextJSONRenderer(HalJSONRenderer):
    media_type = "text/json"
    format = "text-json"


RENDERER_CLASSES = (HalJSONRenderer, JSONRenderer, TextJSONRenderer)


class AcceptNegotiation(negotiation.DefaultContentNegotiation):
    """``Accept`` alone picks the renderer; no ``?format=`` or suffix overrides it.

    DRF's negotiation reads no qualities. Here each type takes the quality of the most
    precise range that matches it; the highest above 0 wins, among equals the server's
    order (no header or ``*/*``: ``application/hal+json``); none of the three is a 406.

    A body is parsed only when its ``Content-Type`` names one concrete media type (RFC 9110
    8.3.1), else 415: DRF would match ``*/*``, ``application/*`` or a type with Unicode
    spaces around it to a parser.
    """

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> Any:
        main = (request.content_type or "").split(";", 1)[0].strip(_SPACE)
        if not _CONCRETE_MEDIA_TYPE.fullmatch(main):
            return None
        return super().select_parser(request, parsers)

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> tuple[Any, str]:
        # Not DRF's get_accept_list(): it strips any Unicode space from a member and reads
        # only the first 64, so a malformed member would count and a good one could not.
        header = request.META.get("HTTP_ACCEPT", "").strip(_SPACE) or "*/*"
        index = _preferred(header, tuple(r.media_type for r in renderers))
        if index is None:
            raise exceptions.NotAcceptable(
                _("Not acceptable: this endpoint serves %(media_types)s.")
                % {"media_types": ", ".join(r.media_type for r in renderers)}
            )
        return renderers[index], renderers[index].media_type


_SPACE = " \t"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONCRETE_MEDIA_TYPE = re.compile(r"[!#$%&'+\-.^_`|~0-9A-Za-z]+/[!#$%&'+\-.^_`|~0-9A-Za-z]+")
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
_LANGUAGE_RANGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*")
#: Longest ``Accept-Language`` read; a longer one gets the default language.
MAX_ACCEPT_LANGUAGE = 500


def _weighted(member: str) -> tuple[str, bool, float] | None:
    """A list member's value, whether it had parameters other than ``q``, and its quality;
    ``None`` when the parameters are malformed or the quality is not an RFC 9110 qvalue."""
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


@lru_cache(maxsize=256)
def _preferred(header: str, media_types: tuple[str, ...]) -> int | None:
    """Index of the media type the ``Accept`` header prefers, ``None`` when it admits none."""
    ranges: list[tuple[str, int, float]] = []  # a well-formed member, its precision, quality
    for value, parameters, quality in filter(None, map(_weighted, header.split(","))):
        kind, slash, subtype = value.partition("/")
        if not (slash and _TOKEN.fullmatch(kind) and _TOKEN.fullmatch(subtype)):
            continue
        if kind == "*" != subtype:
            continue  # "*/json" is no media range
        precision = 0 if kind == "*" else 1 if subtype == "*" else 3 if parameters else 2
        ranges.append((value, precision, quality))
    qualities = []
    for media_type in media_types:
        matching = [r for r in ranges if media_type_matches(media_type, r[0])]
        # The most precise range decides, the first of equally precise ones.
        qualities.append(max(matching, key=itemgetter(1), default=("", 0, 0.0))[2])
    best = max(qualities)
    return qualities.index(best) if best > 0 else None


def negotiate_language(request: HttpRequest) -> str:
    """The first of ``LANGUAGES`` the ``Accept-Language`` header asks for, else the default."""
    return _language_for(
        request.META.get("HTTP_ACCEPT_LANGUAGE", ""),
        tuple(app_settings.LANGUAGES),
        app_settings.DEFAULT_LANGUAGE,
    )


@lru_cache(maxsize=512)
def _language_for(header: str, languages: tuple[str, ...], default: str) -> str:
    if len(header) > MAX_ACCEPT_LANGUAGE:
        return default
    wanted: list[tuple[float, int, str]] = []
    refused: set[str] = set()
    for position, weighted in enumerate(map(_weighted, header.split(","))):
        if weighted is None or weighted[1] or not _LANGUAGE_RANGE.fullmatch(weighted[0]):
            continue
        tag, _parameters, quality = weighted
        if quality > 0:
            wanted.append((-quality, position, tag.lower()))
        else:
            refused.add(tag.lower())
    configured = {code.lower(): code for code in languages}
    for _quality, _position, tag in sorted(wanted):
        # "*" is any language not refused by name, the default first.
        candidates = (default, *languages) if tag == "*" else (tag, tag.split("-")[0])
        for code in map(str.lower, candidates):
            if code in configured and code not in refused:
                return configured[code]
    return default
