"""What the client sent: the POST body's length, then the body as a form, multipart or JSON.

DRF's own parsers fall back to Latin-1 for a form that is not UTF-8, report a JSON body
that is not UTF-8 as a codec error, let the last of two equal JSON keys win silently, and
let a deeply nested JSON body or too many form fields escape as non-DRF exceptions. These
parsers turn each of those into a 400 with a message the client can act on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

from dch_favourites.api.errors import LengthRequired, PayloadTooLarge, excerpt
from dch_favourites.conf import app_settings

_SPACE = " \t"


def request_body_length(request: HttpRequest | Request) -> int:
    """The POST body's length in bytes, checked before anything reads the body.

    ``Content-Length`` is ASCII digits (RFC 9110 8.6), spaces or tabs around them: anything
    else (``²``, ``٣``, ``-1``, ``+1``, ``1e3``, ``12, 12``) is a 400, a length past
    ``MAX_BODY_SIZE`` a 413. A chunked body reaches a WSGI application only once a server
    or buffering proxy has read it and set ``Content-Length``; without it Django would read
    it as empty, so it is a 411. Both headers together are ambiguous (RFC 9112 6.3): a 400.
    No body is length 0.
    """
    meta = request.META
    declared = meta.get("CONTENT_LENGTH")
    encoded = meta.get("HTTP_TRANSFER_ENCODING")
    if declared in (None, ""):
        if encoded:
            raise LengthRequired
        return 0
    if encoded:
        raise ParseError(_("Content-Length and Transfer-Encoding cannot be sent together."))
    digits = str(declared).strip(_SPACE)
    if not (digits.isascii() and digits.isdigit()):
        raise ParseError(_("The Content-Length header is not a number."))
    digits = digits.lstrip("0") or "0"
    limit = app_settings.MAX_BODY_SIZE
    # A length with more digits than the limit is past it: int() of thousands of digits is
    # refused by Python (or slow), so such a length is not converted.
    if len(digits) > len(str(limit)) or int(digits) > limit:
        raise PayloadTooLarge(limit)
    return int(digits)


def _read_utf8(stream: IO[Any] | None) -> str:
    body = stream.read() if stream is not None else b""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(_("The request body is not valid UTF-8.")) from None


class FormParser(parsers.BaseParser):
    """``application/x-www-form-urlencoded``, UTF-8 only (percent-escapes included)."""

    media_type = "application/x-www-form-urlencoded"

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> QueryDict:
        try:
            return QueryDict(_read_utf8(stream), encoding="utf-8")
        except TooManyFieldsSent:
            raise ParseError(_("The request body has too many fields.")) from None


class MultiPartParser(parsers.MultiPartParser):
    """``multipart/form-data``; too many parts is the client's error, not a server one."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> parsers.DataAndFiles[Any, Any]:
        try:
            return super().parse(stream, media_type, parser_context)
        except (TooManyFieldsSent, TooManyFilesSent):
            raise ParseError(_("The request body has too many fields.")) from None


class JSONParser(parsers.JSONParser):
    """``application/json`` read with orjson: UTF-8, no NaN, nesting bounded, keys unique."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        text = _read_utf8(stream)
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ParseError(
                _("The request body is not valid JSON (line %(line)d, column %(column)d).")
                % {"line": exc.lineno, "column": exc.colno}
            ) from None
        if isinstance(data, dict | list):
            # orjson keeps the last of two equal keys; the standard library shows them all.
            try:
                json.loads(text, object_pairs_hook=_unique_keys)
            except RecursionError:  # Python 3.11 reads less deeply nested JSON than orjson
                raise ParseError(_("The request body is nested too deeply.")) from None
        return data


def _unique_keys(pairs: list[tuple[str, Any]]) -> None:
    keys = set()
    for key, _value in pairs:
        if key in keys:
            raise ParseError(
                _("The request body gives the key '%(key)s' more than once.")
                % {"key": excerpt(key, 40)}
            )
        keys.add(key)


PARSER_CLASSES = (FormParser, MultiPartParser, JSONParser)
