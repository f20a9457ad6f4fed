"""Catalogue items, the listeners' favourites and the state of each list and of the catalogue.

Favourites change only through :mod:`dch_favourites.services`. The models do not import
it: every door the ORM opens (``save()``, ``delete()``, ``QuerySet.delete()``,
``bulk_create()``, the many-to-many managers of ``CatalogueItem.listeners`` and
``user.favourite_items``) asks the app config for the write path it was given in
``ready()``, so no door bypasses the list's version and ``updated``. Catalogue edits by
queryset (``update()``, ``bulk_update()``, ``bulk_create()``) move the catalogue clock there too.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import NotSupportedError, connections, models, router, transaction
from django.db.models import Count, F, FilteredRelation, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import get_access_token_model, revoke_access_token

from dch_favourites import prepared
from dch_favourites.conf import app_settings
from dch_favourites.exceptions import FavouritesError

M = TypeVar("M", bound=models.Model)

if TYPE_CHECKING:
    from datetime import datetime

    from dch_favourites.apps import DchFavouritesConfig

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


def default_manager(model: type[M]) -> models.Manager[M]:
    """``model._meta.default_manager``, which every concrete model has."""
    manager = model._meta.default_manager
    if manager is None:  # only abstract models have none
        raise TypeError(f"{model._meta.label} has no default manager")
    return manager


def write_path() -> ModuleType:
    """The service module every write goes through (:mod:`dch_favourites.services`).

    Handed to the app config in ``ready()``; looked up here so that the models need not
    import the services, which import the models.
    """
    config = cast("DchFavouritesConfig", Favourite._meta.app_config)
    return config.write_path


validate_item_id = RegexValidator(
    ITEM_ID_PATTERN,
    _("An id is 1 to 64 letters, digits, '-' or '_', starting with a letter or digit."),
)


class CatalogueQuerySet(models.QuerySet[M]):
    """Catalogue rows whose writes by queryset move the catalogue clock (lists show them).

    ``update()``, ``bulk_update()`` and, when :meth:`creation_changes_catalogue` says so,
    ``bulk_create()`` call :func:`dch_favourites.services.catalogue_changed`.
    """

    def update(self, **kwargs: Any) -> int:
        """Update the rows and move the catalogue clock."""
        updated = super().update(**kwargs)
        if updated:
            write_path().catalogue_changed(db=self.db)
        return updated

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_update(
        self, objs: Iterable[M], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        """``bulk_update()`` that moves the catalogue clock once, as :meth:`update` does."""
        # Django may implement it with update(): one batch, one move of the clock, in the
        # same transaction as the rows.
        with transaction.atomic(using=self.db), write_path().catalogue_batch():
            updated = super().bulk_update(objs, fields, batch_size=batch_size)
            if updated:
                write_path().catalogue_changed(db=self.db)
        return updated

    bulk_update.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(self, objs: Iterable[M], *args: Any, **kwargs: Any) -> list[M]:
        """``bulk_create()`` that moves the catalogue clock when the new rows can show."""
        created = super().bulk_create(objs, *args, **kwargs)
        if created and self.creation_changes_catalogue(created, **kwargs):
            write_path().catalogue_changed(db=self.db)
        return created

    bulk_create.alters_data = True  # type: ignore[attr-defined]

    def creation_changes_catalogue(self, created: list[M], **options: Any) -> bool:
        """Whether rows made by ``bulk_create()`` can change what a list shows."""
        return True


class CatalogueItemQuerySet(CatalogueQuerySet["CatalogueItem"]):
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

    def creation_changes_catalogue(self, created: list[CatalogueItem], **options: Any) -> bool:
        """An upsert may change listed items; a new concert gives its parts their begin."""
        return bool(options.get("update_conflicts")) or any(
            item.type == ItemType.CONCERT for item in created
        )


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
    listeners = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Favourite",
        related_name="favourite_items",
        verbose_name=_("listeners"),
        blank=True,
    )

    objects: ClassVar[CatalogueItemManager[CatalogueItem]] = CatalogueItemManager()

    #: Set by ``save()`` of a concert whose ``begin`` changed (its parts show that begin).
    begin_changed: bool = False

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
            # Its parts show this begin: the post-save hook renews their documents when it
            # changed. Read where the save writes, never a replica.
            db = kwargs.get("using") or router.db_for_write(type(self), instance=self)
            stored = (
                default_manager(type(self))
                .using(db)
                .filter(pk=self.pk)
                .values_list("begin", flat=True)
            )
            self.begin_changed = list(stored) != [self.begin]
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


class TranslationQuerySet(CatalogueQuerySet["CatalogueItemTranslation"]):
    """Translations; writes by queryset move the catalogue clock (titles change)."""


TranslationManager = models.Manager.from_queryset(TranslationQuerySet)


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

    objects: ClassVar[TranslationManager[CatalogueItemTranslation]] = TranslationManager()

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
    """Favourites; every write goes through the write path so lists move forward.

    ``delete()`` and ``bulk_create()`` (which the many-to-many managers of
    ``CatalogueItem.listeners`` and ``user.favourite_items`` use) are routed to
    :mod:`dch_favourites.services`; ``update()`` and ``bulk_update()`` are refused, since a
    favourite has nothing to edit in place.
    """

    def delete(self) -> tuple[int, dict[str, int]]:
        """Remove the selected favourites through the write path."""
        removed = write_path().remove_favourite_rows(self)
        return removed, {Favourite._meta.label: removed}

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def bulk_create(self, objs: Iterable[Favourite], *args: Any, **kwargs: Any) -> list[Favourite]:
        """Add the favourites through the write path (each listener's all or nothing).

        Favourites already on a list are left as they are. Returns the stored rows.
        """
        return list(write_path().add_favourite_rows(list(objs), db=self.db))

    bulk_create.alters_data = True  # type: ignore[attr-defined]

    def update(self, **kwargs: Any) -> int:
        """Refused: remove the favourite and add the other item instead."""
        raise FavouritesError(_not_editable())

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_update(
        self, objs: Iterable[Favourite], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        """Refused, as :meth:`update`."""
        raise FavouritesError(_not_editable())

    bulk_update.alters_data = True  # type: ignore[attr-defined]

    def entries(self, user_id: Any, language: str | None = None) -> models.QuerySet[Any, Any]:
        """One listener's list as a ``values_list`` of :data:`ENTRY_COLUMNS`, newest first.

        Columns: id, type, title, short title, is_free, published, begin, overview image,
        detail image, updated; the three timestamps in Unix seconds. Titles come in
        ``language`` where translated, else in the default language; ``begin`` is the
        concert's for a part whose concert exists.
        """
        rows = self.filter(user_id=user_id).order_by("-added", "-id")
        return rows.annotate(**entry_columns("item__", language)).values_list(*ENTRY_COLUMNS)


def _not_editable() -> str:
    return str(
        _(
            "A favourite is not edited in place: remove it and add the other item "
            "(dch_favourites.services)."
        )
    )


FavouriteManager = models.Manager.from_queryset(FavouriteQuerySet)


class Favourite(models.Model):
    """One catalogue item on one listener's list: the through-table of ``CatalogueItem.listeners``.

    Every write goes through :mod:`dch_favourites.services`: ``save()`` of a new row adds
    it there, ``delete()`` removes it there.
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

    objects: ClassVar[FavouriteManager[Favourite]] = FavouriteManager()

    class Meta:
        verbose_name = _("favourite")
        verbose_name_plural = _("favourites")
        ordering = ("-added", "-id")
        constraints = [
            models.UniqueConstraint(fields=["user", "item"], name="dch_fav_unique_user_item"),
        ]
        indexes = [
            # A listener's list, newest first, from the index alone (item_id last: the
            # order is decided before it): one listener's rows lie scattered over the table.
            models.Index(fields=["user", "-added", "-id", "item"], name="dch_fav_user_newest_item"),
            models.Index(fields=["item", "added"], name="dch_fav_item_added_idx"),
            # The admin's newest-first list and the "most favourited" period scan.
            models.Index(fields=["-added", "-id"], name="dch_fav_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} \u2665 {self.item_id}"

    def save(self, *args: Any, source: str | None = None, **kwargs: Any) -> None:
        """Add a new favourite through the write path; a stored one cannot be edited.

        ``source`` names the door for the signals (:class:`dch_favourites.services.Source`).
        """
        if self.pk is None:
            write_path().add_favourite_instance(
                self, lambda: super(Favourite, self).save(*args, **kwargs), source=source
            )
            return
        db = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        stored = (
            default_manager(type(self))
            .using(db)
            .filter(pk=self.pk, user_id=self.user_id, item_id=self.item_id)
        )
        if not stored.exists():
            raise FavouritesError(_not_editable())

    def delete(
        self, *args: Any, source: str | None = None, **kwargs: Any
    ) -> tuple[int, dict[str, int]]:
        """Remove the favourite through the write path."""
        removed = write_path().remove_favourites(self.user, [self.item_id], source=source)
        return len(removed.item_ids), {Favourite._meta.label: len(removed.item_ids)}


class FavouriteListState(models.Model):
    """Where a listener's list stands: bumped on every change of its membership, by any path.

    ``version`` counts the adds and removes. Edits of the catalogue move
    :class:`CatalogueState` instead, so an edit of an item held by many listeners touches
    none of their rows. ``catalogue_version`` is the catalogue's version at the list's last
    change; the list's top-level ``updated`` is worked out from both clocks by
    :func:`document_updated`.
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
        _("updated"), default=0, help_text=_("The top-level updated after the last change.")
    )
    catalogue_version = models.PositiveBigIntegerField(
        _("catalogue version"),
        default=0,
        db_default=0,
        help_text=_("The catalogue's version at that change."),
    )

    class Meta:
        verbose_name = _("favourites list state")
        verbose_name_plural = _("favourites list states")

    def __str__(self) -> str:
        return f"{self.user_id} v{self.version} @{self.updated}"


CATALOGUE_STATE_ID = 1


class CatalogueState(models.Model):
    """The catalogue's clock: one row, moved by every edit that can change a listed entry.

    An item edit, delete or translation change moves this one row instead of every
    holder's list state; a document names it in its ETag and cache key.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=CATALOGUE_STATE_ID)
    version = models.PositiveBigIntegerField(_("version"), default=0)
    updated = models.PositiveBigIntegerField(
        _("updated"), default=0, help_text=_("Unix seconds of the last change.")
    )

    class Meta:
        verbose_name = _("catalogue state")
        verbose_name_plural = _("catalogue states")

    def __str__(self) -> str:
        return f"catalogue v{self.version} @{self.updated}"


#: What a listener's document depends on besides its rows: the list's version, updated
#: and catalogue version at its last change, the catalogue's version and updated now.
STATE_COLUMNS = (
    "list_version",
    "list_updated",
    "list_catalogue_version",
    "catalogue_version_now",
    "catalogue_updated",
)


def catalogue_column(name: str) -> Subquery:
    """The catalogue clock's ``version`` or ``updated``, as a subquery of another query."""
    row = CatalogueState.objects.filter(pk=CATALOGUE_STATE_ID).values(name)[:1]
    return Subquery(row, output_field=models.BigIntegerField())


def document_state(user_id: Any, using: str) -> tuple[int, ...]:
    """The :data:`STATE_COLUMNS` of a listener's document, in one query.

    All zeros for a listener who never had a favourite: that body (an empty list, updated
    0) depends on nothing else. A catalogue never edited is at version 0.
    """
    found = (
        FavouriteListState.objects.using(using)
        .filter(user_id=user_id)
        .annotate(
            list_version=F("version"),
            list_updated=F("updated"),
            list_catalogue_version=F("catalogue_version"),
            catalogue_version_now=catalogue_column("version"),
            catalogue_updated=catalogue_column("updated"),
        )
        .values_list(*STATE_COLUMNS)
        .first()
    )
    return state_of(found)


def state_of(values: Sequence[Any] | None) -> tuple[int, ...]:
    """:data:`STATE_COLUMNS` as read (None, or NULLs from a LEFT JOIN), normalised.

    All zeros without a list: that body depends on nothing else.
    """
    if values is None or not values[0]:
        return (0,) * len(STATE_COLUMNS)
    return tuple(value or 0 for value in values)


def document_rows(
    user_id: Any, language: str | None, using: str
) -> tuple[tuple[int, ...], list[tuple[Any, ...]]]:
    """A listener's list and the state it is in, read in one statement (one snapshot).

    Returns :func:`document_state`'s tuple and the entry rows (:data:`ENTRY_COLUMNS`,
    newest first). The rows come from the listener's state row outwards (a LEFT JOIN to the
    favourites), so the state and the rows always belong together, also under concurrent
    writes; a listener without a state row has an empty list.
    """
    connection = connections[using]
    width = len(STATE_COLUMNS)
    if connection.vendor in UNIX_SECONDS_SQL:
        rows = _run_document_sql(connection, user_id, language)
    else:
        rows = _document_rows_queryset(user_id, language, using)
    state = state_of(rows[0][:width] if rows else None)
    if not rows or rows[0][width] is None:
        return state, []
    return state, list(map(_ENTRY_PART, rows))


#: The entry columns of a :func:`document_rows` row (past the state's).
_ENTRY_PART = operator.itemgetter(slice(len(STATE_COLUMNS), None))


def document_rows_in_state(
    user_id: Any, list_version: int, catalogue_version: int, language: str | None, using: str
) -> list[tuple[Any, ...]] | None:
    """The entry rows of a listener's list if it is still in a state read earlier, else None.

    The state (:data:`STATE_COLUMNS`) was read earlier in the request, with the token. The
    statement reads the rows only while the list's and the catalogue's versions are still
    the ones given (each moves with every change of the other columns of its clock), so
    rows and state belong together as in :func:`document_rows`, without sending the state
    again with every row. None when either has moved on since: read both then.
    """
    if not list_version:
        return []  # never had a favourite: the empty list, whatever came since
    connection = connections[using]
    if connection.vendor not in UNIX_SECONDS_SQL:
        return None
    rows = _run_document_sql(connection, user_id, language, (list_version, catalogue_version))
    if not rows:
        return None
    return [] if rows[0][0] is None else rows


def _run_document_sql(
    connection: Any, user_id: Any, language: str | None, guard: tuple[int, int] | None = None
) -> list[tuple[Any, ...]]:
    """Run :func:`_document_sql` (``guard``: the list's and catalogue's versions); its rows."""
    translated = bool(language) and language != app_settings.DEFAULT_LANGUAGE
    params = [language] if translated else []
    params += [user_id, *(guard or ())]
    sql = _document_sql(connection.vendor, translated, guarded=guard is not None)
    with connection.cursor() as cursor:
        prepared.execute(connection, cursor, sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


#: Unix seconds of a datetime column, as :class:`UnixSeconds` computes them.
UNIX_SECONDS_SQL = {
    "postgresql": "TRUNC(EXTRACT(EPOCH FROM {}))::bigint",
    "sqlite": "CAST(strftime('%%s', {}) AS INTEGER)",  # %% : the query has parameters
}


@functools.cache
def _document_sql(vendor: str, translated: bool, *, guarded: bool) -> str:
    """:func:`document_rows`' statement in SQL, built once from the models' ``_meta``.

    The ORM builds and compiles the same query (:func:`_document_rows_queryset`, tested to
    agree) on every call, which costs more than running it on the API's read path.
    ``guarded``: :func:`document_rows_in_state`'s, the entry columns alone, read only
    while the list's and the catalogue's versions are the ones given.
    """
    seconds = UNIX_SECONDS_SQL[vendor].format

    def table(model: type[models.Model]) -> str:
        return f'"{model._meta.db_table}"'

    title, short_title = "i.title", "i.short_title"
    translation_join = ""
    if translated:
        title, short_title = (
            "COALESCE(tr.title, i.title)",
            "COALESCE(tr.short_title, i.short_title)",
        )
        translation_join = (
            f"LEFT JOIN {table(CatalogueItemTranslation)} tr "
            "ON tr.item_id = i.id AND tr.language = %s "
        )
    state = "" if guarded else "s.version, s.updated, s.catalogue_version, c.version, c.updated, "
    guard = "AND s.version = %s AND COALESCE(c.version, 0) = %s " if guarded else ""
    return (
        f"SELECT {state}"
        f"i.id, i.type, {title}, {short_title}, i.is_free, {seconds('i.published')}, "
        f"{seconds('COALESCE(con.begin, i.begin)')}, i.overview_image, i.detail_image, "
        f"{seconds('i.updated')} "
        f"FROM {table(FavouriteListState)} s "
        f"LEFT JOIN {table(CatalogueState)} c ON c.id = {CATALOGUE_STATE_ID} "
        f"LEFT JOIN {table(Favourite)} f ON f.user_id = s.user_id "
        f"LEFT JOIN {table(CatalogueItem)} i ON i.id = f.item_id "
        f"LEFT JOIN {table(CatalogueItem)} con ON con.id = i.concert_id "
        f"{translation_join}"
        "WHERE s.user_id = %s "
        f"{guard}"
        "ORDER BY f.added DESC, f.id DESC"
    )


def _document_rows_queryset(user_id: Any, language: str | None, using: str) -> list[Any]:
    """:func:`document_rows`' statement through the ORM (any database Django supports)."""
    prefix = "user__dch_favourites__"
    return list(
        FavouriteListState.objects.using(using)
        .filter(user_id=user_id)
        .annotate(
            list_version=F("version"),
            list_updated=F("updated"),
            list_catalogue_version=F("catalogue_version"),
            catalogue_version_now=catalogue_column("version"),
            catalogue_updated=catalogue_column("updated"),
            **entry_columns(f"{prefix}item__", language),
        )
        .order_by(f"-{prefix}added", f"-{prefix}id")
        .values_list(*STATE_COLUMNS, *ENTRY_COLUMNS)
    )


def document_updated(
    list_version: int,
    list_updated: int,
    list_catalogue_version: int,
    catalogue_version: int,
    catalogue_updated: int,
) -> int:
    """The top-level ``updated`` of a list, from its own clock and the catalogue's.

    One more for every catalogue change since the list's own last change, and never less
    than the catalogue's last change: so it strictly increases with every change that can
    alter the document, however the two kinds interleave, without touching the list's row
    on a catalogue edit. It runs ahead of the clock only while changes come faster than one
    a second. A listener who never had a favourite is at 0.
    """
    if not list_version:
        return 0
    return max(list_updated + max(0, catalogue_version - list_catalogue_version), catalogue_updated)


# ---------------------------------------------------------------------------------------
# Devices: app installations that signed in like the original service's apps
# (dch_favourites.oauth2). Every token issued through a device is linked to it, so
# disconnecting the device revokes them all at once.
# ---------------------------------------------------------------------------------------

OAUTH2_APPLICATION_MODEL: str = getattr(
    settings, "OAUTH2_PROVIDER_APPLICATION_MODEL", "oauth2_provider.Application"
)
OAUTH2_ACCESS_TOKEN_MODEL: str = getattr(
    settings, "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL", "oauth2_provider.AccessToken"
)
DEVICE_FIELD_MAX_LENGTH = 100


class Device(models.Model):
    """An app installation that got a device token (``grant_type=device``).

    It keeps what the app said about itself, the listener who last signed in on it, and,
    through :class:`DeviceToken`, every access token issued through it.
    """

    application = models.ForeignKey(
        OAUTH2_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="dch_devices",
        verbose_name=_("application"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dch_devices",
        verbose_name=_("listener"),
        help_text=_("Who last signed in on the device."),
    )
    app_version = models.CharField(_("app version"), max_length=DEVICE_FIELD_MAX_LENGTH, blank=True)
    app_distributor = models.CharField(
        _("app distributor"), max_length=DEVICE_FIELD_MAX_LENGTH, blank=True
    )
    device_vendor = models.CharField(
        _("device vendor"), max_length=DEVICE_FIELD_MAX_LENGTH, blank=True
    )
    device_model = models.CharField(
        _("device model"), max_length=DEVICE_FIELD_MAX_LENGTH, blank=True
    )
    affiliate = models.CharField(_("affiliate"), max_length=DEVICE_FIELD_MAX_LENGTH, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    disconnected = models.DateTimeField(_("disconnected"), null=True, blank=True)
    # SHA-256 of the device's own refresh token; its device tokens have no user, which
    # django-oauth-toolkit's RefreshToken requires.
    refresh_token_checksum = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ("-last_seen", "-id")
        indexes = [models.Index(fields=["refresh_token_checksum"], name="dch_device_refresh_idx")]

    def __str__(self) -> str:
        described = " ".join(part for part in (self.device_vendor, self.device_model) if part)
        return f"{described or _('device')} #{self.pk}"

    def disconnect(self) -> int:
        """Revoke every token issued through the device, in one transaction; how many.

        Each access token goes through django-oauth-toolkit's ``revoke_access_token``, so
        its refresh token is revoked with it. The device keeps its row, marked
        ``disconnected``, and no token can be issued through it again.
        """
        token_model = get_access_token_model()
        with transaction.atomic(using=router.db_for_write(token_model)):
            locked = type(self).objects.select_for_update().get(pk=self.pk)
            tokens = list(token_model.objects.filter(dch_device_link__device=locked))
            for token in tokens:
                revoke_access_token(token)
            locked.disconnected = self.disconnected = locked.disconnected or timezone.now()
            locked.refresh_token_checksum = self.refresh_token_checksum = ""
            locked.save(update_fields=["disconnected", "refresh_token_checksum"])
        return len(tokens)


class DeviceToken(models.Model):
    """Links an access token to the device it was issued through (one device per token)."""

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("device")
    )
    access_token = models.OneToOneField(
        OAUTH2_ACCESS_TOKEN_MODEL,
        on_delete=models.CASCADE,
        related_name="dch_device_link",
        verbose_name=_("access token"),
    )

    class Meta:
        verbose_name = _("device token")
        verbose_name_plural = _("device tokens")

    def __str__(self) -> str:
        return f"{self.device} / {self.access_token_id}"
