"""The read path: a listener's favourites document, as the database holds it.

A document depends on its rows and on two clocks, the list's state (moved by the list's own
changes) and the catalogue's (moved by catalogue edits): :func:`document_state` reads both
in one query, :func:`document_rows` them and the entries in one statement.

The entry columns are the sources of the API's declared serializer fields: the item's own
field of that name, unless :data:`DERIVED_SOURCES` derives it (titles in the asked
language, timestamps in Unix seconds, a part's begin from its concert).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from django.db import NotSupportedError, models
from django.db.models import F, FilteredRelation, Q, Subquery
from django.db.models.functions import Coalesce

from dch_favourites.conf import app_settings
from dch_favourites.models import CATALOGUE_STATE_ID, CatalogueState, FavouriteListState


class IntegerAsRead:
    """An integer expression whose value every backend hands back as an int already: no
    per-value ``int()`` on the way out (the ORM's own for an integer expression)."""

    output_field = models.BigIntegerField()

    def get_db_converters(self, connection: Any) -> list[Any]:
        return self.output_field.get_db_converters(connection)


class ClockValue(IntegerAsRead, Subquery):
    """A value of the catalogue's clock row, read in the same statement."""


class UnixSeconds(IntegerAsRead, models.Func):
    """A datetime as whole Unix seconds, computed by the database.

    The API sends every timestamp as an integer; converting in SQL spares the Python side a
    datetime per value (three per entry). Truncates toward zero, as ``int(dt.timestamp())``.
    """

    arity = 1

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotSupportedError(f"UnixSeconds is not implemented for {connection.vendor}.")

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = "TRUNC(EXTRACT(EPOCH FROM %(expressions)s))::bigint"
        return super().as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # Django keeps SQLite datetimes as UTC text, which strftime reads.
        template = "CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        return super().as_sql(compiler, connection, template=template, **extra_context)


#: Where the translation of the asked language is joined (a ``FilteredRelation``).
TRANSLATION = "entry_translation"


def _translated(name: str, prefix: str, translated: bool) -> Any:
    own = F(f"{prefix}{name}")
    return Coalesce(F(f"{TRANSLATION}__{name}"), own) if translated else own


#: Entry sources that are not simply the item's field of the same name.
DERIVED_SOURCES: dict[str, Callable[[str, bool], Any]] = {
    "title": partial(_translated, "title"),
    "short_title": partial(_translated, "short_title"),
    "published": lambda prefix, translated: UnixSeconds(f"{prefix}published"),
    # A work's or interview's begin is its concert's while the concert exists.
    "begin": lambda prefix, translated: UnixSeconds(
        Coalesce(F(f"{prefix}concert__begin"), F(f"{prefix}begin"))
    ),
    "updated": lambda prefix, translated: UnixSeconds(f"{prefix}updated"),
}


def entry_queryset(
    queryset: models.QuerySet[Any], prefix: str, language: str | None, columns: Sequence[str]
) -> models.QuerySet[Any]:
    """``queryset`` ready for :func:`entry_values`: a language other than the default one
    joins its translation (one LEFT JOIN) of the item ``prefix`` leads to (``""``: itself)."""
    if _is_translated(language) and any(c in ("title", "short_title") for c in columns):
        relation = f"{prefix}translations"
        translation = FilteredRelation(relation, condition=Q(**{f"{relation}__language": language}))
        queryset = queryset.annotate(**{TRANSLATION: translation})
    return queryset


def entry_values(prefix: str, language: str | None, columns: Sequence[str]) -> list[Any]:
    """The expressions of the entry ``columns`` (sources) of items reached through ``prefix``."""
    translated = _is_translated(language)
    return [
        DERIVED_SOURCES[name](prefix, translated)
        if name in DERIVED_SOURCES
        else F(f"{prefix}{name}")
        for name in columns
    ]


def _is_translated(language: str | None) -> bool:
    return bool(language) and language != app_settings.DEFAULT_LANGUAGE


@dataclass(frozen=True)
class DocumentState:
    """What a listener's document depends on besides its rows: the list's version, ``updated``
    and catalogue version at its last change, and the catalogue's version and ``updated`` now
    (all zeros for a listener who never had a favourite, whose body depends on nothing else).
    """

    list_version: int = 0
    list_updated: int = 0
    list_catalogue_version: int = 0
    catalogue_version: int = 0
    catalogue_updated: int = 0

    @classmethod
    def of(cls, values: Sequence[Any] | None) -> DocumentState:
        """The state as read (None, or NULLs from a LEFT JOIN), normalised."""
        if values is None or not values[0]:
            return cls()
        return cls(*(value or 0 for value in values))

    @property
    def list_values(self) -> tuple[int, int, int]:
        """The list's part, as the write path keeps it in the cache."""
        return (self.list_version, self.list_updated, self.list_catalogue_version)

    @property
    def catalogue_values(self) -> tuple[int, int]:
        """The catalogue's part, as the write path keeps it in the cache."""
        return (self.catalogue_version, self.catalogue_updated)

    @property
    def updated(self) -> int:
        """The document's top-level ``updated``, from the list's clock and the catalogue's.

        One more for every catalogue change since the list's own last change, and never less
        than the catalogue's last change: so it strictly increases with every change to the
        document, without touching the list's row on a catalogue edit, and runs ahead of the
        clock only while changes come faster than one a second. 0 for a list never changed.
        """
        if not self.list_version:
            return 0
        behind = max(0, self.catalogue_version - self.list_catalogue_version)
        return max(self.list_updated + behind, self.catalogue_updated)


def state_values() -> list[Any]:
    """The expressions of a :class:`DocumentState`, read from the list's state row."""
    clock = CatalogueState.objects.filter(pk=CATALOGUE_STATE_ID)
    return [F("version"), F("updated"), F("catalogue_version")] + [
        ClockValue(clock.values(name)[:1]) for name in ("version", "updated")
    ]


STATE_WIDTH = len(DocumentState.__dataclass_fields__)


def document_state(user_id: Any, using: str) -> DocumentState:
    """The state of a listener's document, in one query."""
    row = FavouriteListState.objects.using(using).filter(user_id=user_id)
    return DocumentState.of(row.values_list(*state_values()).first())


def document_rows(
    user_id: Any, language: str | None, columns: Sequence[str], using: str
) -> tuple[DocumentState, list[tuple[Any, ...]]]:
    """A listener's list (``columns``, newest first) and its state, read in one statement
    from the state row outwards (a LEFT JOIN): a listener without one has an empty list."""
    language = language if _is_translated(language) else None
    query = _rows_query(language, tuple(columns)).using(using).filter(user_id=user_id)
    rows = list(query)
    state = DocumentState.of(rows[0][:STATE_WIDTH] if rows else None)
    if not rows or rows[0][STATE_WIDTH] is None:
        return state, []
    return state, [row[STATE_WIDTH:] for row in rows]


@cache
def _rows_query(language: str | None, columns: tuple[str, ...]) -> models.QuerySet[Any]:
    """:func:`document_rows`' statement for every listener, built once per language and set
    of columns, not per request (building it was a tenth of a miss of 100 entries)."""
    prefix = "user__dch_favourites__"
    states = entry_queryset(FavouriteListState.objects.all(), f"{prefix}item__", language, columns)
    return states.order_by(f"-{prefix}added", f"-{prefix}id").values_list(
        *state_values(), *entry_values(f"{prefix}item__", language, columns)
    )
