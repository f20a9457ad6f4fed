"""The one place where favourites change.

The API, the admin, management commands, Python callers, the ORM's doors on
:class:`~dch_favourites.models.Favourite` (routed here by the models) and cascades all
come through here, so every change of a list moves the listener's
:class:`~dch_favourites.models.FavouriteListState` forward, every catalogue edit that can
change a listed entry moves the one :class:`~dch_favourites.models.CatalogueState`, and
:mod:`dch_favourites.signals` are sent after commit.

Locks are always taken in the same order, catalogue items first and list states second
(states in primary-key order), so concurrent writers queue instead of deadlocking. A
catalogue edit locks no list state: however many listeners hold an item, editing or
deleting it does not make them wait. On SQLite the whole transaction is serialised
(``transaction_mode: IMMEDIATE``).
"""

from __future__ import annotations

import contextvars
import copy
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import connections, models, router, transaction
from django.db.models import Count, F, QuerySet, Value
from django.db.models.functions import Greatest
from django.dispatch import Signal
from django.utils import timezone

from dch_favourites.api.cache import CATALOGUE_KEY, add_states, set_states, state_key
from dch_favourites.conf import app_settings
from dch_favourites.documents import DocumentState, state_values
from dch_favourites.exceptions import AlreadyListed, FavouritesError, ListFull, UnknownItems
from dch_favourites.models import (
    CATALOGUE_STATE_ID,
    CONCERT_PART_TYPES,
    CatalogueItem,
    CatalogueItemTranslation,
    CatalogueState,
    Favourite,
    FavouriteListState,
    ItemType,
    default_manager,
)
from dch_favourites.signals import favourite_added, favourite_removed

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = [
    "AlreadyListed",
    "FavouritesError",
    "ListChange",
    "ListFull",
    "ListState",
    "Source",
    "UnknownItems",
    "add_favourites",
    "catalogue_changed",
    "delete_catalogue_items",
    "delete_catalogue_items_on_commit",
    "holder_count",
    "holder_counts",
    "list_state",
    "remove_all_favourites",
    "remove_favourites",
]

M = TypeVar("M", bound=models.Model)

#: How many holders' signals are sent per batch after an item is deleted.
SIGNAL_BATCH = 1000
#: How many holders of an item :func:`delete_catalogue_items` releases per transaction.
HOLDER_BATCH = 1000


class Source(StrEnum):
    """Which door a change came through; passed on to the signals."""

    API = "api"
    ADMIN = "admin"
    CASCADE = "cascade"
    COMMAND = "command"
    PYTHON = "python"


@dataclass(frozen=True)
class ListState:
    """The version and top-level ``updated`` of a listener's list."""

    version: int = 0
    updated: int = 0


@dataclass(frozen=True)
class ListChange:
    """What one call changed: the ids applied (in order) and the list's state after it.

    ``answer`` is what the call's ``read_back`` returned, read in the same transaction.
    """

    state: ListState
    item_ids: tuple[str, ...] = field(default=())
    answer: Any = None

    @property
    def changed(self) -> bool:
        return bool(self.item_ids)


def now_seconds() -> int:
    """The current time in Unix seconds."""
    return int(time.time())


def list_state(user: AbstractBaseUser) -> ListState:
    """The state of ``user``'s list; a listener who never had a favourite is at (0, 0)."""
    db = router.db_for_read(FavouriteListState)
    row = FavouriteListState.objects.using(db).filter(user_id=user.pk)
    found = row.values_list("version", "updated").first()
    return ListState(*found) if found else ListState()


def add_favourites(
    user: AbstractBaseUser,
    item_ids: Iterable[str],
    *,
    source: str | None = None,
    read_back: Callable[[str], Any] | None = None,
) -> ListChange:
    """Add items to ``user``'s list, all or nothing.

    Items already on the list are left as they are. Raises :class:`UnknownItems` when an id
    names no catalogue item and :class:`ListFull` past the configured length; in both
    cases nothing changes. ``read_back(db)``, when given, runs in the same transaction
    after the change (the API reads the list it answers with there); its result is the
    change's ``answer``.
    """
    return _add(user, _unique(item_ids), _source(source), read_back=read_back)


def _add(
    user: AbstractBaseUser,
    ids: list[str],
    source: Source,
    insert: Callable[[], None] | None = None,
    read_back: Callable[[str], Any] | None = None,
) -> ListChange:
    db = router.db_for_write(Favourite)
    with transaction.atomic(using=db):
        found = _lock_items_for_reference(ids, db)
        missing = [item_id for item_id in ids if item_id not in found]
        if missing:
            raise UnknownItems(missing)
        user_id, state = _lock_state(user, db)
        present = _listed_of(user.pk, ids, db)
        new_ids = [item_id for item_id in ids if item_id not in present]
        if new_ids:
            limit = app_settings.MAX_FAVOURITES_PER_USER
            if _plain(Favourite, db).filter(user_id=user.pk).count() + len(new_ids) > limit:
                raise ListFull(limit)
            if insert is None:
                added = timezone.now()
                _plain(Favourite, db).bulk_create(
                    [Favourite(user_id=user.pk, item_id=i, added=added) for i in new_ids]
                )
            else:
                insert()
        return _changed(user, user_id, state, new_ids, favourite_added, source, read_back, db)


def remove_favourites(
    user: AbstractBaseUser,
    item_ids: Iterable[str],
    *,
    source: str | None = None,
    read_back: Callable[[str], Any] | None = None,
) -> ListChange:
    """Remove items from ``user``'s list; ids not on it are ignored.

    ``read_back`` as for :func:`add_favourites`.
    """
    ids = _unique(item_ids)
    db = router.db_for_write(Favourite)
    with transaction.atomic(using=db):
        user_id, state = _lock_state(user, db)
        present = _listed_of(user.pk, ids, db)
        removed = [item_id for item_id in ids if item_id in present]
        if removed:
            _plain(Favourite, db).filter(user_id=user.pk, item_id__in=removed).delete()
        return _changed(user, user_id, state, removed, favourite_removed, source, read_back, db)


def _changed(
    user: AbstractBaseUser,
    user_id: Any,
    state: DocumentState,
    item_ids: list[str],
    signal: Signal,
    source: str | None,
    read_back: Callable[[str], Any] | None,
    db: str,
) -> ListChange:
    """The end of a change of the locked list: bumped and signalled if anything changed."""
    after = ListState(state.list_version, state.list_updated)
    if item_ids:
        row = _bumped(user_id, state, now_seconds())
        _plain(FavouriteListState, db).filter(pk=user_id).update(
            **{name: getattr(row, name) for name in BUMPED_FIELDS}
        )
        after = ListState(row.version, row.updated)
        _send_on_commit(signal, user, item_ids, _source(source), db)
    answer = read_back(db) if read_back is not None else None
    if item_ids:
        # Kept while the list is locked, so its writers keep their states in commit order.
        set_states({state_key(user.pk): list_values(row)})
        add_states({CATALOGUE_KEY: (state.catalogue_version, state.catalogue_updated)})
    return ListChange(after, tuple(item_ids), answer)


def remove_all_favourites(user: AbstractBaseUser, *, source: str | None = None) -> ListChange:
    """Empty ``user``'s list."""
    db = router.db_for_write(Favourite)
    return remove_favourites(user, _listed_item_ids(user.pk, db), source=source)


def remove_favourite_rows(
    queryset: QuerySet[Favourite], *, source: str | None = None, atomic: bool = True
) -> int:
    """Delete the favourites a queryset selects (admin bulk delete, ``qs.delete()``).

    Each listener's part goes through :func:`remove_favourites`, in user order, on the
    write database. With ``atomic`` (the default, as ``QuerySet.delete()`` is) all of them
    go in one transaction. Without it, and outside a transaction, each listener's part
    commits on its own, so a delete that touches many lists never keeps one of them
    locked for longer than its own change (the admin's delete action). Returns how many
    favourites were removed.
    """
    db = router.db_for_write(Favourite)
    with transaction.atomic(using=db) if atomic else nullcontext():
        selected = (
            queryset.using(db).order_by("user_id", "-added").values_list("user_id", "item_id")
        )
        by_user: dict[Any, list[str]] = defaultdict(list)
        for user_id, item_id in selected:
            by_user[user_id].append(item_id)
        users = default_manager(get_user_model()).using(db).in_bulk(list(by_user))
        # A listener deleted since the rows were read took their favourites along.
        return sum(
            len(remove_favourites(users[user_id], item_ids, source=source).item_ids)
            for user_id, item_ids in by_user.items()
            if user_id in users
        )


def delete_catalogue_items(item_ids: Iterable[str], *, batch_size: int | None = None) -> int:
    """Delete catalogue items, however many listeners hold them, without long locks.

    Called outside a transaction, it first releases each item's holders, ``batch_size``
    (default :data:`HOLDER_BATCH`) at a time, each batch in a transaction of its own (their
    lists move forward; ``favourite_removed``, source ``cascade``, once it commits), so a
    holder's POST naming the item waits for one batch at most. Then the items go in one
    transaction, as ``QuerySet.delete()`` deletes them. Inside a transaction all of it
    happens in that one. Returns how many items were deleted.
    """
    ids = sorted(_unique(item_ids))
    db = router.db_for_write(CatalogueItem)
    batch_size = HOLDER_BATCH if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    # A batch's holders are parameters of its statements (999 at most on SQLite).
    most = connections[db].features.max_query_params
    if most:
        batch_size = min(batch_size, most - 1)
    if not connections[db].in_atomic_block:
        for item_id in ids:
            while _release_holders(item_id, batch_size, db) == batch_size:
                pass
    with transaction.atomic(using=db), catalogue_batch():
        _count, deleted = CatalogueItem.objects.using(db).filter(pk__in=ids).delete()
    return deleted.get(CatalogueItem._meta.label, 0)


def holder_count(*item_ids: str) -> int:
    """How many listeners hold any of the catalogue items ``item_ids`` (write database)."""
    return _holdings(item_ids).values("user_id").distinct().count()


def holder_counts(item_ids: Iterable[str]) -> dict[str, int]:
    """How many listeners hold each of ``item_ids`` that someone holds, in one query."""
    return dict(_holdings(item_ids).values_list("item_id").annotate(holders=Count("pk")))


def _holdings(item_ids: Iterable[str]) -> QuerySet[Favourite]:
    """The favourites of ``item_ids`` on the write database, unordered."""
    rows = _plain(Favourite, router.db_for_write(Favourite))
    return rows.filter(item_id__in=_unique(item_ids)).order_by()


def delete_catalogue_items_on_commit(item_ids: Iterable[str]) -> bool:
    """Delete items from inside a transaction without holding their holders there.

    When one of the items is held by more listeners than one batch, the delete is left to
    :func:`delete_catalogue_items` once the transaction has committed; returns True.
    Otherwise, or outside a transaction, returns False: the caller deletes them itself.
    """
    ids = _unique(item_ids)
    db = router.db_for_write(CatalogueItem)
    if not connections[db].in_atomic_block:
        return False
    if not any(count > HOLDER_BATCH for count in holder_counts(ids).values()):
        return False
    transaction.on_commit(lambda: delete_catalogue_items(ids), using=db)
    return True


def add_favourite_rows(
    favourites: Sequence[Favourite], *, db: str | None = None
) -> list[Favourite]:
    """Add unsaved ``Favourite`` instances (``bulk_create()``, the many-to-many ``add()``).

    Grouped by listener, each group through :func:`add_favourites`, all in one
    transaction: one unknown item or full list refuses them all. Returns the stored rows.
    """
    db = db or router.db_for_write(Favourite)
    by_user: dict[Any, list[str]] = defaultdict(list)
    for favourite in favourites:
        by_user[favourite.user_id].append(favourite.item_id)
    with transaction.atomic(using=db):
        users = default_manager(get_user_model()).using(db).in_bulk(list(by_user))
        missing_users = [user_id for user_id in by_user if user_id not in users]
        if missing_users:
            raise FavouritesError(f"Unknown listener: {', '.join(map(str, missing_users))}.")
        for user_id in sorted(by_user, key=str):
            add_favourites(users[user_id], by_user[user_id], source=Source.PYTHON)
        stored = Favourite.objects.using(db).filter(
            user_id__in=list(by_user), item_id__in={f.item_id for f in favourites}
        )
        by_key = {(row.user_id, row.item_id): row for row in stored}
    return [by_key[(f.user_id, f.item_id)] for f in favourites if (f.user_id, f.item_id) in by_key]


def add_favourite_instance(
    favourite: Favourite, save: Callable[[], None], *, source: str | None = None
) -> None:
    """Add a new ``Favourite`` instance (admin, ``create()``, ``save()``) on the write path.

    ``save`` is the model's own save, which inserts the row; it runs under the list's lock,
    after the checks of :func:`add_favourites`. Raises :class:`AlreadyListed` when the item
    is on the list already.
    """

    def insert() -> None:
        favourite.added = favourite.added or timezone.now()
        save()

    change = _add(favourite.user, [favourite.item_id], _source(source), insert=insert)
    if not change.changed:
        raise AlreadyListed(favourite.item_id)


#: The databases whose catalogue clock a :func:`catalogue_batch` will move on its way out.
_pending_catalogue_changes: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "dch_favourites_pending_catalogue_changes", default=None
)


@contextmanager
def catalogue_batch() -> Iterator[None]:
    """Many catalogue edits, one move of the catalogue clock (an import, a bulk action).

    Inside, :func:`catalogue_changed` only notes the database; the clock moves once per
    database when the block ends without an error, inside the caller's transaction. Use it
    within that transaction, so edits and clock commit together::

        with transaction.atomic(), catalogue_batch():
            for item in items:
                item.save()
    """
    if _pending_catalogue_changes.get() is not None:
        yield  # already batched by an outer block
        return
    pending: set[str] = set()
    token = _pending_catalogue_changes.set(pending)
    try:
        yield
    finally:
        _pending_catalogue_changes.reset(token)
    for db in sorted(pending):
        catalogue_changed(db=db)


def catalogue_changed(*, db: str | None = None) -> None:
    """Move the catalogue clock: every document that shows catalogue data is renewed.

    One row is updated, inside the caller's transaction if there is one, so the change
    and the clock commit together; no listener's list state is touched. Within a
    :func:`catalogue_batch` the move is deferred to the batch's end.
    """
    db = db or router.db_for_write(CatalogueState)
    pending = _pending_catalogue_changes.get()
    if pending is not None:
        pending.add(db)
        return
    now = now_seconds()
    states = _plain(CatalogueState, db).filter(pk=CATALOGUE_STATE_ID)
    bump = {"version": F("version") + 1, "updated": Greatest(Value(now), F("updated") + 1)}
    with transaction.atomic(using=db):
        if not states.update(**bump):
            CatalogueState.objects.using(db).bulk_create(
                [CatalogueState(pk=CATALOGUE_STATE_ID)], ignore_conflicts=True
            )
            states.update(**bump)
        # Kept while the clock's row is locked: its writers keep it in commit order.
        set_states({CATALOGUE_KEY: states.values_list("version", "updated").get()})


# Cascades: connected in AppConfig.ready() to model signals.


def catalogue_item_saved(instance: CatalogueItem, created: bool, **kwargs: Any) -> None:
    """An item was saved: its entry changed in every list that holds it.

    A new item is on no list yet, unless it is a concert, whose begin its parts show.
    """
    db = kwargs.get("using") or router.db_for_write(CatalogueItem)
    if created and instance.type != ItemType.CONCERT:
        return
    if instance.type == ItemType.CONCERT and (created or instance.begin_changed):
        _touch_parts(instance.pk, db)
    instance.begin_changed = False
    catalogue_changed(db=db)


def catalogue_item_deleting(instance: CatalogueItem, **kwargs: Any) -> None:
    """An item is about to be deleted (inside the delete's transaction).

    Its holders lose it: the catalogue clock moves and each of them hears
    ``favourite_removed`` after commit. A concert's parts fall back to their own begin. The
    item row is locked first, so an add racing the delete either lands before it (and is
    removed with it) or finds the item gone.
    """
    db = kwargs.get("using") or router.db_for_write(CatalogueItem)
    _plain(CatalogueItem, db).select_for_update().filter(pk=instance.pk).exists()
    holders = _delete_holdings(instance.pk, db)
    if not _touch_parts(instance.pk, db) and not holders:
        return  # on no list and nobody's concert: no document shows it
    catalogue_changed(db=db)
    if holders:
        item_id = instance.pk
        transaction.on_commit(lambda: _tell_holders(holders, item_id, db), using=db)


def catalogue_translation_changed(instance: CatalogueItemTranslation, **kwargs: Any) -> None:
    """A translation was saved or deleted: the item's entry changed in that language.

    Not when it goes because its item is deleted (``origin``, sent with delete signals):
    :func:`catalogue_item_deleting` renews what shows the item.
    """
    origin = kwargs.get("origin")
    if isinstance(origin, CatalogueItem) or (
        isinstance(origin, QuerySet) and origin.model is CatalogueItem
    ):
        return
    db = kwargs.get("using") or router.db_for_write(CatalogueItem)
    _plain(CatalogueItem, db).filter(pk=instance.item_id).update(updated=timezone.now())
    catalogue_changed(db=db)


def user_deleting(instance: AbstractBaseUser, **kwargs: Any) -> None:
    """A listener is about to be deleted: their list goes with them; tell the receivers."""
    db = kwargs.get("using") or router.db_for_write(Favourite)
    item_ids = _listed_item_ids(instance.pk, db)
    if item_ids:
        # A copy: the delete sets the instance's pk to None before the receivers run.
        _send_on_commit(favourite_removed, copy.copy(instance), item_ids, Source.CASCADE, db)


# Internals.


def _source(source: str | None) -> Source:
    return Source(source) if source is not None else Source.PYTHON


def _plain(model: type[M], db: str) -> QuerySet[M]:
    """A model's rows as plain Django reads and writes them: for this module only.

    The models' own managers route writes here; the write path itself must not go round.
    """
    return models.QuerySet(model, using=db)


def _unique(item_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item_ids))


def _listed_item_ids(user_pk: Any, db: str) -> list[str]:
    """The ids on a listener's list, newest first."""
    rows = _plain(Favourite, db).filter(user_id=user_pk).order_by("-added", "-id")
    return list(rows.values_list("item_id", flat=True))


def _listed_of(user_pk: Any, item_ids: Sequence[str], db: str) -> set[str]:
    """Which of ``item_ids`` are on the listener's list."""
    listed = _plain(Favourite, db).filter(user_id=user_pk, item_id__in=item_ids)
    return set(listed.values_list("item_id", flat=True))


def _lock_items_for_reference(item_ids: Sequence[str], db: str) -> set[str]:
    """The ids of ``item_ids`` that exist, share-locked against deletion until commit.

    PostgreSQL takes ``FOR KEY SHARE`` (what a foreign key check takes), which waits for a
    delete in progress but not for edits or other adds. SQLite serialises writers already.
    """
    if not item_ids:
        return set()
    connection = connections[db]
    if connection.vendor == "postgresql":
        # Raw SQL: the ORM's select_for_update() has no FOR KEY SHARE, and its FOR NO KEY
        # UPDATE would make adds of one item, and its edits, wait for each other.
        table = connection.ops.quote_name(CatalogueItem._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT "id" FROM {table} WHERE "id" = ANY(%s) ORDER BY "id" FOR KEY SHARE',
                [list(item_ids)],
            )
            return {row[0] for row in cursor.fetchall()}
    items = _plain(CatalogueItem, db).filter(pk__in=item_ids)
    return set(items.values_list("pk", flat=True))


def _lock_state(user: AbstractBaseUser, db: str) -> tuple[Any, DocumentState]:
    """:func:`_lock_states` of one listener: the user id as the database returns it.

    For some keys (a UUID on SQLite) that is not the instance's own pk.
    """
    ((user_id, state),) = _lock_states([user.pk], db).items()
    return user_id, state


#: The columns of a list state that every change moves.
BUMPED_FIELDS = ("version", "updated", "catalogue_version")


def _bumped(user_id: Any, state: DocumentState, now: int) -> FavouriteListState:
    """The list state row after one change: version + 1, top-level ``updated`` strictly later.

    ``updated`` becomes later than the document's ``updated`` was, catalogue changes since
    the last change included (:attr:`~dch_favourites.documents.DocumentState.updated`),
    and the catalogue version they are included up to is noted.
    """
    return FavouriteListState(
        user_id=user_id,
        version=state.list_version + 1,
        updated=max(now, state.updated + 1),
        catalogue_version=state.catalogue_version,
    )


def list_values(row: FavouriteListState) -> tuple[int, int, int]:
    """A list state row as the document cache keeps it."""
    return (row.version, row.updated, row.catalogue_version)


def _touch_parts(concert_id: str, db: str) -> int:
    """Stamp a concert's works and interviews as updated (their begin changed); how many."""
    parts = _plain(CatalogueItem, db).filter(concert_id=concert_id, type__in=CONCERT_PART_TYPES)
    return parts.update(updated=timezone.now())


def _delete_holdings(item_id: str, db: str, of: Sequence[Any] | None = None) -> list[Any]:
    """Delete an item's favourites (of the listeners ``of`` only); the holders' ids, sorted.

    On PostgreSQL one statement deletes the rows and names their holders (``RETURNING``),
    so the delete's transaction, which holders' POSTs naming the item wait for, stays short
    however many hold it. The ORM's cascade then finds no favourites left.
    """
    rows = _plain(Favourite, db).filter(item_id=item_id)
    if of is not None:
        rows = rows.filter(user_id__in=list(of))
    connection = connections[db]
    if connection.vendor != "postgresql":
        holders = list(rows.values_list("user_id", flat=True))
        rows.delete()
        return sorted(holders)
    # Raw SQL: the ORM's delete() cannot say which rows it deleted (RETURNING).
    where, params = '"item_id" = %s', list[Any]([item_id])
    if of is not None:
        where += ' AND "user_id" = ANY(%s)'
        params.append(list(of))
    table = connection.ops.quote_name(Favourite._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM {table} WHERE {where} RETURNING "user_id"', params)
        return sorted(row[0] for row in cursor.fetchall())


def _release_holders(item_id: str, batch_size: int, db: str) -> int:
    """Take the item off the lists of up to ``batch_size`` holders, in one transaction.

    The holders' list states are locked first, in primary-key order (the write path's lock
    order: the item is not locked, a POST naming it finds it still there), then their
    favourite of the item is deleted and each list that lost it is bumped. Returns how
    many holders were found: fewer than ``batch_size`` means none is left.
    """
    with transaction.atomic(using=db):
        holders = list(
            _plain(Favourite, db)
            .filter(item_id=item_id)
            .order_by()
            .values_list("user_id", flat=True)[:batch_size]
        )
        if not holders:
            return 0
        states = _lock_states(holders, db)
        removed = set(_delete_holdings(item_id, db, holders))
        now = now_seconds()
        bumps = [_bumped(user, states[user], now) for user in holders if user in removed]
        if bumps:
            FavouriteListState.objects.using(db).bulk_update(bumps, BUMPED_FIELDS)
            set_states({state_key(row.user_id): list_values(row) for row in bumps})
            released = sorted(removed)
            transaction.on_commit(lambda: _tell_holders(released, item_id, db), using=db)
    return len(holders)


def _lock_states(user_ids: Sequence[Any], db: str) -> dict[Any, DocumentState]:
    """The list states of ``user_ids`` (created where missing), locked in key order.

    Each with the catalogue's clock, read in the same statement, for :func:`_bumped`.
    """
    states = _plain(FavouriteListState, db).filter(user_id__in=list(user_ids))
    features = connections[db].features
    if features.has_select_for_update:
        of = ("self",) if features.has_select_for_update_of else ()
        states = states.select_for_update(of=of)
    locked = states.order_by("user_id").values_list("user_id", *state_values())
    found = list(locked)
    if len(found) < len(user_ids):
        known = {row[0] for row in found}
        FavouriteListState.objects.using(db).bulk_create(
            [FavouriteListState(user_id=user_id) for user_id in user_ids if user_id not in known],
            ignore_conflicts=True,
        )
        found = list(locked.all())
    return {user_id: DocumentState(*(value or 0 for value in values)) for user_id, *values in found}


def _tell_holders(holders: Sequence[Any], item_id: str, db: str) -> None:
    """``favourite_removed`` for every holder of a deleted item, users loaded in batches.

    Nothing is loaded when no receiver is connected by the time the delete commits.
    """
    if not favourite_removed.has_listeners(Favourite):
        return
    users = default_manager(get_user_model()).using(db)
    for start in range(0, len(holders), SIGNAL_BATCH):
        ids = holders[start : start + SIGNAL_BATCH]
        batch = users.in_bulk(ids)
        for user in (batch[user_id] for user_id in ids if user_id in batch):
            favourite_removed.send_robust(
                sender=Favourite, user=user, items=(item_id,), source=Source.CASCADE
            )


def _send_on_commit(
    signal: Signal, user: AbstractBaseUser, item_ids: Sequence[str], source: Source, db: str
) -> None:
    items = tuple(item_ids)
    # The change is committed by then: a failing receiver must not turn it into an error
    # for the caller, nor keep the other receivers from hearing of it. send_robust logs
    # the failure to the "django.dispatch" logger.
    transaction.on_commit(
        lambda: signal.send_robust(sender=Favourite, user=user, items=items, source=source),
        using=db,
    )
