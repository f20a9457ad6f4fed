"""What the client sent: the POST body as a form, multipart or JSON, strictly UTF-8.

DRF's own parsers fall back to Latin-1 for a form that is not UTF-8, report a JSON body
that is not UTF-8 as a codec error, and let a deeply nested JSON body or too many form
fields escape as non-DRF exceptions. These subclasses turn each of those into a 400 with a
message the client can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

import orjson
from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
from django.http import QueryDict
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

if TYPE_CHECKING:
    from django.http.request import _ImmutableQueryDict
    from django.utils.datastructures import MultiValueDict


def _read_utf8(stream: IO[Any] | None) -> str:
    body = stream.read() if stream is not None else b""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(_("The request body is not valid UTF-8.")) from None


def _too_many_fields() -> ParseError:
    return ParseError(_("The request body has too many fields."))


class FormParser(parsers.FormParser):
    """``application/x-www-form-urlencoded``, UTF-8 only (percent-escapes included)."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> _ImmutableQueryDict:
        text = _read_utf8(stream)
        try:
            return QueryDict(text, encoding="utf-8")
        except TooManyFieldsSent:
            raise _too_many_fields() from None


class MultiPartParser(parsers.MultiPartParser):
    """``multipart/form-data``; too many parts is the client's error, not a server one."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> parsers.DataAndFiles[_ImmutableQueryDict, MultiValueDict[str, Any]]:
        try:
            return super().parse(stream, media_type, parser_context)
        except (TooManyFieldsSent, TooManyFilesSent):
            raise _too_many_fields() from None


class JSONParser(parsers.JSONParser):
    """``application/json`` read with orjson: UTF-8, no NaN, nesting bounded."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        text = _read_utf8(stream)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ParseError(
                _("The request body is not valid JSON (line %(line)d, column %(column)d).")
                % {"line": exc.lineno, "column": exc.colno}
            ) from None


PARSER_CLASSES = (FormParser, MultiPartParser, JSONParser)
