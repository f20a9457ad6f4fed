"""Catalogue items, the listeners' favourites and the state of each listener's list.

Favourites change only through :mod:`dch_favourites.services`; the managers here route
``Favourite`` deletes there too, so no door bypasses the list's version and ``updated``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.core.validators import RegexValidator
from django.db import NotSupportedError, connections, models
from django.db.models import Count, F, FilteredRelation, Q
from django.db.models.functions import Coalesce
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ITEM_ID_MAX_LENGTH = 64
ITEM_ID_PATTERN = re.compile(r"\A[0-9A-Za-z][0-9A-Za-z_-]{0,63}\Z")
PART_ID_PATTERN = re.compile(r"\A([0-9]+)-[0-9]+\Z")


class ItemType(models.TextChoices):
    """The favouritable content types of the catalogue."""

    CONCERT = "concert", _("concert")
    WORK = "work", _("work")
    INTERVIEW = "interview", _("interview")
    FILM = "film", _("film")
    PLAYLIST = "playlist", _("playlist")


#: Types whose items are parts of a concert, numbered ``<concert id>-<n>``.
CONCERT_PART_TYPES = frozenset({ItemType.WORK, ItemType.INTERVIEW})


def concert_id_of(item_id: str) -> str | None:
    """The concert id named by a work's or interview's id prefix (``"23427-1"`` -> ``"23427"``)."""
    match = PART_ID_PATTERN.match(item_id)
    return match.group(1) if match else None


validate_item_id = RegexValidator(
    ITEM_ID_PATTERN,
    _("An id is 1 to 64 letters, digits, '-' or '_', starting with a letter or digit."),
)


class CatalogueItemQuerySet(models.QuerySet["CatalogueItem"]):
    """Catalogue items, with the favourites ranking."""

    def popular(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> CatalogueItemQuerySet:
        """The most favourited items, most first, each with ``favourite_count``; one query.

        Counts the favourites listeners hold now that were added in ``[since, until)``
        (either end open when ``None``); items with none in the period are left out. Ties
        are ordered by id, so the ranking is stable.
        """
        period: dict[str, Any] = {"favourites__isnull": False}
        if since is not None:
            period["favourites__added__gte"] = since
        if until is not None:
            period["favourites__added__lt"] = until
        # One filter() call: the period and the count use the same join.
        ranked = (
            self.filter(**period)
            .annotate(favourite_count=Count("favourites"))
            .order_by("-favourite_count", "id")
        )
        return ranked[:limit] if limit is not None else ranked


CatalogueItemManager = models.Manager.from_queryset(CatalogueItemQuerySet)


class CatalogueItem(models.Model):
    """A concert, work, interview, film or playlist a listener can keep as a favourite.

    Works and interviews belong to the concert their id prefix names. ``concert`` is
    derived from the id and is not a database constraint, so a part may arrive before its
    concert. While the concert exists its ``begin`` is the part's ``begin`` (the API reads
    the concert's value); the part's own ``begin`` is only the fallback for a missing concert.
    """

    id = models.CharField(
        _("id"),
        primary_key=True,
        max_length=ITEM_ID_MAX_LENGTH,
        validators=[validate_item_id],
        help_text=_("Unique across all types, e.g. 23427 (concert), 23427-1 (work), 301 (film)."),
    )
    type = models.CharField(_("type"), max_length=16, choices=ItemType.choices)
    concert = models.ForeignKey(
        "self",
        verbose_name=_("concert"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        editable=False,
        related_name="parts",
        help_text=_("Derived from the id of a work or interview."),
    )
    title = models.CharField(_("title"), max_length=500)
    short_title = models.CharField(_("short title"), max_length=200, null=True, blank=True)
    is_free = models.BooleanField(_("free"), default=False)
    published = models.DateTimeField(_("published"))
    begin = models.DateTimeField(
        _("begin"),
        null=True,
        blank=True,
        help_text=_("For works and interviews the concert's begin is used while it exists."),
    )
    overview_image = models.CharField(
        _("overview image"),
        max_length=1000,
        null=True,
        blank=True,
        help_text=_("URL template with literal {width}x{height}, e.g. //host/{width}x{height}/a"),
    )
    detail_image = models.CharField(
        _("detail image"),
        max_length=1000,
        null=True,
        blank=True,
        help_text=_("URL template with literal {width}x{height}."),
    )
    updated = models.DateTimeField(_("updated"), editable=False)

    objects: ClassVar[CatalogueItemManager[CatalogueItem]] = CatalogueItemManager()

    _begin_changed: bool = False

    class Meta:
        verbose_name = _("catalogue item")
        verbose_name_plural = _("catalogue items")
        ordering = ("-published", "id")
        indexes = [
            models.Index(fields=["type", "-published"], name="dch_fav_item_type_pub_idx"),
            models.Index(fields=["concert"], name="dch_fav_item_concert_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=ItemType.values), name="dch_fav_item_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.id}: {self.title}"

    def save(self, *args: Any, keep_updated: bool = False, **kwargs: Any) -> None:
        """Save, deriving ``concert`` from the id and stamping ``updated`` (unless kept).

        Lists that hold the item move forward through the post-save hook in
        :mod:`dch_favourites.services`.
        """
        self.concert_id = concert_id_of(self.id) if self.type in CONCERT_PART_TYPES else None
        if self.type == ItemType.CONCERT:
            # Its parts show this begin: the post-save hook moves their lists when it changed.
            stored = type(self)._default_manager.filter(pk=self.pk).values_list("begin", flat=True)
            self._begin_changed = list(stored) != [self.begin]
        if not keep_updated or self.updated is None:
            self.updated = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "updated", "concert"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.type in CONCERT_PART_TYPES and self.id and concert_id_of(self.id) is None:
            raise ValidationError(
                {"id": _("A work or interview id is '<concert id>-<number>', e.g. 23427-1.")}
            )
        if self.type == ItemType.CONCERT and self.id and not self.id.isdigit():
            raise ValidationError({"id": _("A concert id is a number, e.g. 23427.")})

    @property
    def effective_begin(self) -> datetime | None:
        """``begin`` as the API shows it: the concert's for a part whose concert exists."""
        if self.concert_id:
            concert = CatalogueItem.objects.filter(pk=self.concert_id).only("begin").first()
            if concert is not None:
                return concert.begin
        return self.begin


class CatalogueItemTranslation(models.Model):
    """The title and short title of an item in a language other than the default one."""

    item = models.ForeignKey(
        CatalogueItem,
        verbose_name=_("catalogue item"),
        on_delete=models.CASCADE,
        related_name="translations",
    )
    language = models.CharField(_("language"), max_length=16)
    title = models.CharField(_("title"), max_length=500)
    short_title = models.CharField(_("short title"), max_length=200, null=True, blank=True)

    class Meta:
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        constraints = [
            models.UniqueConstraint(
                fields=["item", "language"], name="dch_fav_translation_unique_item_language"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} [{self.language}]: {self.title}"

    def clean(self) -> None:
        """A translation is in one of ``LANGUAGES`` other than the default (the item's own)."""
        from dch_favourites.conf import app_settings

        default = app_settings.DEFAULT_LANGUAGE
        others = [code for code in app_settings.LANGUAGES if code != default]
        if self.language not in others:
            raise ValidationError(
                {
                    "language": _(
                        "Use one of %(languages)s; the item itself holds the %(default)s text."
                    )
                    % {"languages": ", ".join(others) or "-", "default": default}
                }
            )


class UnixSeconds(models.Func):
    """A datetime as whole Unix seconds, computed by the database.

    The API sends every timestamp as an integer; converting in SQL spares the Python side a
    datetime per value (three per entry). Truncates toward zero, as ``int(dt.timestamp())``.
    """

    arity = 1
    output_field = models.BigIntegerField()

    def get_db_converters(self, connection: Any) -> list[Any]:
        # Every backend below hands back an int already: no per-value int() on the way out.
        return self.output_field.get_db_converters(connection)

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        raise NotSupportedError(f"UnixSeconds is not implemented for {connection.vendor}.")

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = "TRUNC(EXTRACT(EPOCH FROM %(expressions)s))::bigint"
        return super().as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # Django keeps SQLite datetimes as UTC text, which strftime reads.
        template = "CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        return super().as_sql(compiler, connection, template=template, **extra_context)

    def as_mysql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', %(expressions)s)"
        return super().as_sql(compiler, connection, template=template, **extra_context)


@dataclass(frozen=True)
class _Statement:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]
    converters: tuple[tuple[int, tuple[Any, ...], Any], ...]


_STATEMENTS: dict[Hashable, _Statement | None] = {}


def compiled_rows(
    using: str,
    key: Hashable,
    build: Callable[..., models.QuerySet[Any, Any]],
    values: tuple[Any, ...],
) -> list[tuple[Any, ...]]:
    """The rows of the ``values_list()`` queryset ``build(*values)``, compiled once.

    Django compiles a queryset to SQL on each evaluation, which on the API's read path
    costs more than running it. The first call for ``(using, key)`` compiles
    ``build(*values)`` and notes where each value sits among the SQL parameters; later
    calls put their own values there and apply the converters Django's iterator would.
    ``key`` names everything else the SQL depends on. A query whose values cannot be
    located, or whose columns come back reordered, is evaluated by the ORM each time.
    """
    cache_key = (using, key)
    if cache_key not in _STATEMENTS:
        queryset = build(*values).using(using)
        _STATEMENTS[cache_key] = _compile(queryset, values)
        return list(queryset)
    statement = _STATEMENTS[cache_key]
    if statement is None:
        return list(build(*values).using(using))
    params = list(statement.params)
    for slot, value in zip(statement.slots, values, strict=True):
        params[slot] = value
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        rows = cursor.fetchall()
    if not statement.converters:
        return cast(list[tuple[Any, ...]], rows)
    converted = []
    for row in rows:
        values_out = list(row)
        for position, converters, expression in statement.converters:
            value = values_out[position]
            for converter in converters:
                value = converter(value, expression, connection)
            values_out[position] = value
        converted.append(tuple(values_out))
    return converted


def _compile(queryset: models.QuerySet[Any, Any], values: tuple[Any, ...]) -> _Statement | None:
    query = queryset.query
    names = (*query.extra_select, *query.values_select, *query.annotation_select)
    if names != tuple(queryset._fields):  # type: ignore[attr-defined]
        return None
    connection = connections[queryset.db]
    compiler = query.get_compiler(queryset.db)
    sql, params = compiler.as_sql()
    slots = []
    for value in values:
        found = [i for i, p in enumerate(params) if type(p) is type(value) and p == value]
        if len(found) != 1:
            return None
        slots.append(found[0])
    expressions = [expression for expression, _sql, _alias in compiler.select]
    if len(expressions) != len(names):
        return None
    converters = []
    for position, expression in enumerate(expressions):
        found_converters = connection.ops.get_db_converters(
            expression
        ) + expression.get_db_converters(connection)
        if found_converters:
            converters.append((position, tuple(found_converters), expression))
    return _Statement(sql, tuple(params), tuple(slots), tuple(converters))


@receiver(setting_changed)
def _forget_statements(**kwargs: Any) -> None:
    _STATEMENTS.clear()


ENTRY_COLUMNS = (
    "entry_id",
    "entry_type",
    "entry_title",
    "entry_short_title",
    "entry_is_free",
    "entry_published",
    "entry_begin",
    "entry_overview",
    "entry_detail",
    "entry_updated",
)


def entry_columns(prefix: str, language: str | None) -> dict[str, Any]:
    """The annotations behind :data:`ENTRY_COLUMNS`, for items reached through ``prefix``.

    ``prefix`` is ``"item__"`` from a favourite, ``""`` from the item itself. A language
    other than the default one joins that language's translation (one LEFT JOIN).
    """
    from dch_favourites.conf import app_settings

    title: Any = F(f"{prefix}title")
    short_title: Any = F(f"{prefix}short_title")
    columns: dict[str, Any] = {}
    if language and language != app_settings.DEFAULT_LANGUAGE:
        columns["entry_translation"] = FilteredRelation(
            f"{prefix}translations", condition=Q(**{f"{prefix}translations__language": language})
        )
        title = Coalesce(F("entry_translation__title"), title)
        short_title = Coalesce(F("entry_translation__short_title"), short_title)
    columns.update(
        entry_id=F(f"{prefix}id"),
        entry_type=F(f"{prefix}type"),
        entry_title=title,
        entry_short_title=short_title,
        entry_is_free=F(f"{prefix}is_free"),
        entry_published=UnixSeconds(f"{prefix}published"),
        entry_begin=UnixSeconds(Coalesce(F(f"{prefix}concert__begin"), F(f"{prefix}begin"))),
        entry_overview=F(f"{prefix}overview_image"),
        entry_detail=F(f"{prefix}detail_image"),
        entry_updated=UnixSeconds(f"{prefix}updated"),
    )
    return columns


class FavouriteQuerySet(models.QuerySet["Favourite"]):
    """Favourites; ``delete()`` goes through the write path so lists move forward."""

    def delete(self) -> tuple[int, dict[str, int]]:
        from dch_favourites import services

        removed = services.remove_favourite_rows(self, source=services.Source.PYTHON)
        return removed, {Favourite._meta.label: removed}

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def _delete_rows(self) -> int:
        """The plain SQL delete, for the write path only."""
        return super().delete()[0]

    def entries(self, user_id: Any, language: str | None = None) -> models.QuerySet[Any, Any]:
        """One listener's list as a ``values_list`` of :data:`ENTRY_COLUMNS`, newest first.

        Columns: id, type, title, short title, is_free, published, begin, overview image,
        detail image, updated; the three timestamps in Unix seconds. Titles come in
        ``language`` where translated, else in the default language; ``begin`` is the
        concert's for a part whose concert exists.
        """
        rows = self.filter(user_id=user_id).order_by("-added", "-id")
        return rows.annotate(**entry_columns("item__", language)).values_list(*ENTRY_COLUMNS)

    def entry_rows(self, user_id: Any, language: str | None = None) -> list[tuple[Any, ...]]:
        """:meth:`entries` as a list, in one query."""
        return list(self.entries(user_id, language))


class FavouriteManager(models.Manager.from_queryset(FavouriteQuerySet)):  # type: ignore[misc]
    """The default manager; its ``entry_rows`` (the API's read) reuses the compiled SQL."""

    def entry_rows(self, user_id: Any, language: str | None = None) -> list[tuple[Any, ...]]:
        """:meth:`FavouriteQuerySet.entry_rows` over all favourites, compiled once per language."""
        from dch_favourites.conf import app_settings

        return compiled_rows(
            self.db,
            ("entry_rows", language, app_settings.DEFAULT_LANGUAGE),
            lambda user: self.get_queryset().entries(user, language),
            (user_id,),
        )


class Favourite(models.Model):
    """One catalogue item on one listener's list: the through-table, with the time added.

    Create and delete favourites with :mod:`dch_favourites.services`; ``save()`` of a new
    row and ``delete()`` are routed there too.
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("listener"),
        on_delete=models.CASCADE,
        related_name="dch_favourites",
    )
    item = models.ForeignKey(
        CatalogueItem,
        verbose_name=_("catalogue item"),
        on_delete=models.CASCADE,
        related_name="favourites",
    )
    added = models.DateTimeField(_("added"), default=timezone.now, editable=False)

    objects: ClassVar[FavouriteManager] = FavouriteManager()

    class Meta:
        verbose_name = _("favourite")
        verbose_name_plural = _("favourites")
        ordering = ("-added", "-id")
        constraints = [
            models.UniqueConstraint(fields=["user", "item"], name="dch_fav_unique_user_item"),
        ]
        indexes = [
            models.Index(fields=["user", "-added", "-id"], name="dch_fav_user_newest_idx"),
            models.Index(fields=["item", "added"], name="dch_fav_item_added_idx"),
            # The admin's newest-first list and the "most favourited" period scan.
            models.Index(fields=["-added", "-id"], name="dch_fav_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} \u2665 {self.item_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Add through the write path; an existing favourite has nothing to change."""
        from dch_favourites import services

        if self._state.adding and self.pk is None:
            services.add_favourite_instance(
                self, source=kwargs.pop("source", services.Source.PYTHON)
            )
            return
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        from dch_favourites import services

        removed = services.remove_favourites(
            self.user, [self.item_id], source=kwargs.pop("source", services.Source.PYTHON)
        )
        return len(removed.item_ids), {Favourite._meta.label: len(removed.item_ids)}


class FavouriteListState(models.Model):
    """Where a listener's list stands: bumped on every effective change, by any path.

    ``updated`` is the list's top-level ``updated`` (Unix seconds); it strictly increases
    with each change, so it never repeats for two different lists. ``version`` counts the
    changes and feeds the ETag.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("listener"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="dch_favourites_state",
    )
    version = models.PositiveBigIntegerField(_("version"), default=0)
    updated = models.PositiveBigIntegerField(
        _("updated"), default=0, help_text=_("Unix seconds of the last change.")
    )

    class Meta:
        verbose_name = _("favourites list state")
        verbose_name_plural = _("favourites list states")

    def __str__(self) -> str:
        return f"{self.user_id} v{self.version} @{self.updated}"
