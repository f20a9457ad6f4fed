"""Fan-out mode: catalogue edits of items that many listeners hold, while holders POST.

For 10 000 and 100 000 holders of one item, on PostgreSQL, three operations run in the
main thread (its own database connection): 20 edits of the item (``item.title = ...;
item.save()``), ``import_catalogue`` of 1 000 changed items held by 100 listeners each,
and ``item.delete()`` of an item every holder has. Meanwhile threads, each with its own
connection and its own WSGI handler, send holders' ``POST action=add|delete`` through
Django's WSGI handler: two on spare items the operation does not touch, two on the item
(or an imported item) the operation changes. Reported per operation: its duration, the
queries it ran, and the max and p99 latency of the POSTs that overlapped it; the target
is every one of them answered within 0.3 s. After each operation a holder who did not
POST must see the change: a new ETag, a 200 (not 304) for the old one, the change in the
body, and a top-level ``updated`` that did not go backwards.

The data is written with ``generate_series`` (users, favourites, list states); only the
listeners who POST or check have a token.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

HOLDER_COUNTS = (10_000, 100_000)
IMPORT_ITEMS = 1000
IMPORT_HOLDERS = 100
EDITS = 20
EDIT_PAUSE = 0.02
#: POSTing threads per operation: on spare items, and on the item(s) the operation changes.
OTHER_POSTERS = 2
SAME_POSTERS = 2
#: Pause of a POSTing thread between two of its requests.
THINK = 0.005
#: Seconds the POSTing threads run before and after each operation.
MARGIN = 0.3
TARGET = 0.3
PATH = "/v2/user/favourites"
TOKEN = "fanout-token-{}-0123456789abcdefghijklmnopqrstuvwxyz"


# Data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holders:
    """One population: ``count`` listeners (ids ``first`` on) who all hold two items."""

    count: int
    first: int
    hot: str  # edited
    doomed: str  # deleted
    imported: list[str]  # each held by IMPORT_HOLDERS of them
    spares: list[str]  # one per POSTing thread, held by no one
    tokens: dict[int, str] = field(default_factory=dict)  # user id -> token

    @property
    def posters(self) -> list[int]:
        step = self.count // (OTHER_POSTERS + SAME_POSTERS + 2)
        return [self.first + step * (k + 1) for k in range(OTHER_POSTERS + SAME_POSTERS)]

    @property
    def witness(self) -> int:
        """A holder who only reads: the one whose GET must show each change."""
        return self.first + self.count - 7

    def imported_by(self, user_id: int) -> list[str]:
        """The imported items ``user_id`` holds (see :func:`fill`)."""
        offset = user_id - self.first
        return [
            self.imported[i]
            for i in range(IMPORT_ITEMS)
            if (offset - i * IMPORT_HOLDERS) % self.count < IMPORT_HOLDERS
        ]


def film(item_id: str, title: str) -> Any:
    from dch_favourites.models import CatalogueItem

    return CatalogueItem(
        id=item_id,
        type="film",
        title=title,
        published=datetime(2020, 1, 1, tzinfo=UTC),
        overview_image="//www.bench.invalid/{width}x{height}/fanout.jpg",
        updated=datetime(2020, 1, 1, tzinfo=UTC),
    )


def fill(count: int, first: int, catalogue_start: int) -> Holders:
    """Items through the ORM; users, favourites and list states with ``generate_series``."""
    from django.db import connection

    from bench.data import catalogue
    from dch_favourites.models import CatalogueItem

    total = OTHER_POSTERS + SAME_POSTERS
    holders = Holders(
        count=count,
        first=first,
        hot=f"hot-{count}",
        doomed=f"doomed-{count}",
        imported=[item.id for item in catalogue(IMPORT_ITEMS, start=catalogue_start)],
        spares=[f"spare-{count}-{k}" for k in range(total)],
    )
    items = [
        film(holders.hot, f"Hot item of {count} holders"),
        film(holders.doomed, f"Doomed item of {count} holders"),
        *(film(spare, f"Spare {spare}") for spare in holders.spares),
        *catalogue(IMPORT_ITEMS, start=catalogue_start),
    ]
    CatalogueItem.objects.bulk_create(items, batch_size=1000)
    last = first + count - 1
    statements: list[tuple[str, list[Any]]] = [
        (
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " SELECT u, '!', false, 'fanout-' || u, '', '', '', false, true, now()"
            " FROM generate_series(%s, %s) u",
            [first, last],
        ),
        (
            "SELECT setval(pg_get_serial_sequence('auth_user', 'id'),"
            " (SELECT max(id) FROM auth_user))",
            [],
        ),
        (
            "INSERT INTO dch_favourites_favourite (user_id, item_id, added)"
            " SELECT u, item, now() - interval '1 day' + (u - %s) * interval '1 ms'"
            " FROM generate_series(%s, %s) u, unnest(%s::text[]) item",
            [first, first, last, [holders.hot, holders.doomed]],
        ),
        # Item i is held by the IMPORT_HOLDERS listeners from offset i * IMPORT_HOLDERS on.
        (
            "INSERT INTO dch_favourites_favourite (user_id, item_id, added)"
            " SELECT %s + (i * %s + j) %% %s, (%s::text[])[i + 1],"
            "        now() - interval '2 hours' + (i * %s + j) * interval '1 ms'"
            " FROM generate_series(0, %s) i, generate_series(0, %s) j",
            [
                first,
                IMPORT_HOLDERS,
                count,
                holders.imported,
                IMPORT_HOLDERS,
                IMPORT_ITEMS - 1,
                IMPORT_HOLDERS - 1,
            ],
        ),
        (
            "INSERT INTO dch_favourites_favouriteliststate"
            " (user_id, version, updated, catalogue_version)"
            " SELECT u, 2, extract(epoch FROM now())::bigint - 3600, 0"
            " FROM generate_series(%s, %s) u",
            [first, last],
        ),
    ]
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
    return holders


def give_tokens(holders: Holders) -> None:
    from oauth2_provider.models import AccessToken, Application

    application, _created = Application.objects.get_or_create(
        name="fanout",
        defaults={
            "client_type": Application.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": Application.GRANT_PASSWORD,
        },
    )
    for user_id in [*holders.posters, holders.witness]:
        token = TOKEN.format(user_id)
        AccessToken.objects.create(
            user_id=user_id,
            application=application,
            token=token,
            scope="read write",
            expires=datetime.now(tz=UTC) + timedelta(days=365),
        )
        holders.tokens[user_id] = token


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# POSTing holders ------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    kind: str  # "other" or "same"
    action: str
    item_id: str
    started: float
    ended: float
    status: int

    @property
    def seconds(self) -> float:
        return self.ended - self.started


class Poster(threading.Thread):
    """A holder sending POSTs back to back (add, delete, add, ...) until told to stop."""

    def __init__(self, kind: str, token: str, item_id: str, add_first: bool) -> None:
        super().__init__(daemon=True)
        self.kind, self.token, self.item_id, self.add_first = kind, token, item_id, add_first
        self.posts: list[Post] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.last_updated = 0

    def run(self) -> None:
        from django.db import connections

        from bench.harness import Client

        client = Client()
        actions = ("add", "delete") if self.add_first else ("delete", "add")
        try:
            n = 0
            while not self.stop.is_set():
                action = actions[n % 2]
                n += 1
                started = time.perf_counter()
                answer = client.request(
                    "POST", PATH, self.token, {"action": action, "id": self.item_id}
                )
                ended = time.perf_counter()
                self.posts.append(
                    Post(self.kind, action, self.item_id, started, ended, answer.status)
                )
                if answer.status == 200:
                    updated = json.loads(answer.body)["updated"]
                    if updated < self.last_updated:
                        raise AssertionError(
                            f"POST answer's updated went back: {self.last_updated} -> {updated}"
                        )
                    self.last_updated = updated
                time.sleep(THINK)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            connections.close_all()


@contextmanager
def posting(holders: Holders, same_items: list[str]) -> Iterator[list[Poster]]:
    """Holders POSTing in threads: on spares, and on ``same_items`` (one per thread)."""
    posters = holders.posters
    threads = [
        Poster("other", holders.tokens[posters[k]], holders.spares[k], add_first=True)
        for k in range(OTHER_POSTERS)
    ]
    threads += [
        Poster(
            "same",
            holders.tokens[posters[OTHER_POSTERS + k]],
            same_items[k],
            add_first=False,
        )
        for k in range(SAME_POSTERS)
    ]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while any(len(thread.posts) < 3 for thread in threads):  # warmed up
            if any(thread.error or not thread.is_alive() for thread in threads):
                break
            if time.monotonic() > deadline:
                raise AssertionError("the POSTing threads did not get going")
            time.sleep(0.01)
        time.sleep(MARGIN)
        yield threads
        time.sleep(MARGIN)
    finally:
        for thread in threads:
            thread.stop.set()
        for thread in threads:
            thread.join(timeout=60)
    for thread in threads:
        if thread.error is not None:
            raise AssertionError(f"a POSTing holder failed: {thread.error!r}") from thread.error


def overlapping(threads: list[Poster], windows: list[tuple[float, float]]) -> list[Post]:
    return [
        post
        for thread in threads
        for post in thread.posts
        if any(post.started < end and post.ended > start for start, end in windows)
    ]


def p99(values: list[float]) -> float:
    """Nearest-rank 99th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


# Checking a holder's GET ----------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    etag: str
    updated: int
    entries: dict[str, dict[str, Any]]


def look(client: Any, token: str) -> Seen:
    answer = client.request("GET", PATH, token)
    if answer.status != 200:
        raise AssertionError(f"GET answered {answer.status}: {answer.body[:300]!r}")
    body = json.loads(answer.body)
    entries = {entry["id"]: entry for entry in body["_links"]["favourites"]}
    return Seen(answer.headers["ETag"], body["updated"], entries)


def check_change(
    client: Any, token: str, before: Seen, shows: Callable[[Seen], bool], what: str
) -> Seen:
    """Fail loudly unless the holder's next GET shows the change (see the module doc)."""
    after = look(client, token)
    problems = []
    if after.etag == before.etag:
        problems.append(f"ETag unchanged ({after.etag})")
    stale = client.request("GET", PATH, token, If_None_Match=before.etag)
    if stale.status != 200:
        problems.append(f"the old ETag got {stale.status}, not 200")
    if after.updated < before.updated:
        problems.append(f"updated went back: {before.updated} -> {after.updated}")
    if not shows(after):
        problems.append(f"the body does not show {what}")
    if problems:
        raise AssertionError(f"after {what}: " + "; ".join(problems))
    return after


# Operations -----------------------------------------------------------------------------


@dataclass
class Outcome:
    holders: int
    operation: str
    seconds: list[float]  # one per timed operation
    queries: int  # of one operation (the largest)
    windows: list[tuple[float, float]]
    posts: list[Post] = field(default_factory=list)
    note: str = ""

    def latencies(self, kind: str) -> list[float]:
        return [post.seconds for post in self.posts if post.kind == kind]

    @property
    def met(self) -> bool:
        return all(post.seconds <= TARGET for post in self.posts)


class QueryCounter:
    """Counts the statements a connection runs (``connection.execute_wrapper``)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def counted() -> Iterator[QueryCounter]:
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


def edit(client: Any, holders: Holders) -> Outcome:
    from dch_favourites.models import CatalogueItem

    token = holders.tokens[holders.witness]
    before = look(client, token)
    same = [holders.hot] * SAME_POSTERS
    outcome = Outcome(holders.count, f"edit the item ({EDITS} edits)", [], 0, [])
    title = ""
    with posting(holders, same) as threads:
        for n in range(EDITS):
            item = CatalogueItem.objects.get(pk=holders.hot)
            title = f"Hot item of {holders.count} holders, edit {n}"
            item.title = title
            with counted() as counter:
                started = time.perf_counter()
                item.save()
                ended = time.perf_counter()
            outcome.seconds.append(ended - started)
            outcome.windows.append((started, ended))
            outcome.queries = max(outcome.queries, counter.count)
            time.sleep(EDIT_PAUSE)
    outcome.posts = overlapping(threads, outcome.windows)
    check_change(
        client,
        token,
        before,
        lambda seen: seen.entries.get(holders.hot, {}).get("title") == title,
        "the edited title",
    )
    return outcome


def import_records(item_ids: list[str], stamp: str) -> list[dict[str, Any]]:
    from dch_favourites.models import CatalogueItem

    def seconds(value: datetime | None) -> int | None:
        return None if value is None else int(value.timestamp())

    items = CatalogueItem.objects.in_bulk(item_ids)
    return [
        {
            "id": item.id,
            "type": item.type,
            "title": f"{item.title} ({stamp})",
            "short_title": item.short_title,
            "is_free": item.is_free,
            "date": {"published": seconds(item.published), "begin": seconds(item.begin)},
            "image": {"overview": item.overview_image, "detail": item.detail_image},
        }
        for item in (items[item_id] for item_id in item_ids)
    ]


def run_import(client: Any, holders: Holders) -> Outcome:
    from dch_favourites.catalogue_import import import_catalogue

    token = holders.tokens[holders.witness]
    watched = holders.imported_by(holders.witness)
    assert watched, "the witness holds no imported item"
    stamp = f"imported for {holders.count} holders"
    records = import_records(holders.imported, stamp)
    before = look(client, token)
    same = [holders.imported_by(user_id)[0] for user_id in holders.posters[OTHER_POSTERS:]]
    outcome = Outcome(holders.count, f"import {IMPORT_ITEMS} changed items", [], 0, [])
    with posting(holders, same) as threads, counted() as counter:
        started = time.perf_counter()
        result = import_catalogue(records)
        ended = time.perf_counter()
    if result.updated != IMPORT_ITEMS:
        raise AssertionError(f"the import updated {result.updated} items, not {IMPORT_ITEMS}")
    outcome.seconds, outcome.windows, outcome.queries = [ended - started], [(started, ended)], 0
    outcome.queries = counter.count
    outcome.posts = overlapping(threads, outcome.windows)
    check_change(
        client,
        token,
        before,
        lambda seen: all(stamp in seen.entries[item_id]["title"] for item_id in watched),
        "the imported titles",
    )
    return outcome


def delete(client: Any, holders: Holders) -> Outcome:
    from django.db import transaction

    from dch_favourites.models import CatalogueItem, Favourite
    from dch_favourites.signals import favourite_removed

    token = holders.tokens[holders.witness]
    before = look(client, token)
    if holders.doomed not in before.entries:
        raise AssertionError("the witness does not hold the item to delete")
    held = Favourite.objects.filter(item_id=holders.doomed).count()
    told: list[int] = []

    def hear(sender: Any, user: Any, items: tuple[str, ...], **kwargs: Any) -> None:
        if items == (holders.doomed,):
            told.append(user.pk)

    favourite_removed.connect(hear, weak=False, dispatch_uid="bench.fanout")
    committed: list[float] = []
    same = [holders.doomed] * SAME_POSTERS
    outcome = Outcome(holders.count, "delete an item all of them hold", [], 0, [])
    try:
        with posting(holders, same) as threads, counted() as counter:
            item = CatalogueItem.objects.get(pk=holders.doomed)
            started = time.perf_counter()
            with transaction.atomic():
                # Registered first, so it runs first: the moment the delete committed.
                transaction.on_commit(lambda: committed.append(time.perf_counter()))
                item.delete()
            ended = time.perf_counter()
    finally:
        favourite_removed.disconnect(dispatch_uid="bench.fanout")
    outcome.seconds, outcome.windows = [ended - started], [(started, ended)]
    outcome.queries = counter.count
    outcome.posts = overlapping(threads, outcome.windows)
    outcome.note = (
        f"transaction {committed[0] - started:.2f} s, then {len(told):,} "
        f"favourite_removed signals in {ended - committed[0]:.2f} s"
    )
    for post in outcome.posts:
        # Adding the item once it is (being) deleted is refused: 404, as for any unknown id.
        if post.status != 200 and not (post.action == "add" and post.item_id == holders.doomed):
            raise AssertionError(f"a holder's POST got {post.status}: {post}")
    if Favourite.objects.filter(item_id=holders.doomed).exists():
        raise AssertionError("favourites of the deleted item are left")
    if len(told) < held - SAME_POSTERS or len(told) > held:
        raise AssertionError(f"{len(told)} holders heard of the delete; {held} held the item")
    check_change(
        client,
        token,
        before,
        lambda seen: holders.doomed not in seen.entries,
        "the deleted item gone",
    )
    return outcome


def idle(holders: Holders) -> Outcome:
    """The same POSTs for a second with no operation running: the baseline."""
    outcome = Outcome(holders.count, "(nothing: baseline)", [], 0, [])
    with posting(holders, [holders.hot] * SAME_POSTERS) as threads:
        started = time.perf_counter()
        time.sleep(1.0)
        outcome.windows = [(started, time.perf_counter())]
    outcome.posts = overlapping(threads, outcome.windows)
    return outcome


# Report ---------------------------------------------------------------------------------


def milliseconds(values: list[float], pick: Callable[[list[float]], float]) -> str:
    return f"{pick(values) * 1000:,.0f}" if values else "-"


def row(outcome: Outcome) -> list[str]:
    seconds = outcome.seconds
    if not seconds:
        duration = "-"
    elif len(seconds) == 1:
        duration = f"{seconds[0]:.2f}"
    else:
        duration = f"{statistics.median(seconds) * 1000:.1f} ms / {max(seconds) * 1000:.1f} ms"
    other, same = outcome.latencies("other"), outcome.latencies("same")
    baseline = outcome.operation.startswith("(")
    verdict = "-" if baseline else ("met" if outcome.met else "MISSED")
    return [
        f"{outcome.holders:,}",
        outcome.operation,
        duration,
        str(outcome.queries) if not baseline else "-",
        f"{len(other)} / {len(same)}",
        milliseconds(other, p99),
        milliseconds(other, max),
        milliseconds(same, p99),
        milliseconds(same, max),
        verdict,
    ]


def fanout(url: str) -> bool:
    """Run the fan-out benchmark on a fresh PostgreSQL database at ``url``; targets met?"""
    from bench.run import machine, migrate, postgres_version, recreate, start_django, table

    started = time.monotonic()
    recreate(url)
    start_django(url)
    migrate()
    from bench.harness import Client

    populations = []
    for n, count in enumerate(HOLDER_COUNTS):
        first = 1 + sum(HOLDER_COUNTS[:n])
        holders = fill(count, first, catalogue_start=n * IMPORT_ITEMS)
        give_tokens(holders)
        populations.append(holders)
    analyze()
    built = time.monotonic() - started
    client = Client()
    outcomes: list[Outcome] = []
    for holders in populations:
        outcomes.append(idle(holders))
        outcomes.append(edit(client, holders))
        outcomes.append(run_import(client, holders))
        outcomes.append(delete(client, holders))

    print(f"\n## Fan-out: catalogue edits with many holders, PostgreSQL {postgres_version()}\n")
    print(f"{machine()}\n")
    print(
        f"The operation runs in the main thread; meanwhile {OTHER_POSTERS + SAME_POSTERS} "
        f"threads (own connections) POST as holders through Django's WSGI handler, "
        f'{THINK * 1000:.0f} ms apart: {OTHER_POSTERS} on spare items ("other"), '
        f'{SAME_POSTERS} on the item the operation changes ("same"; for the import, an '
        "imported item they hold). POSTs counted are those that overlapped the operation; "
        f"target: every one answered within {TARGET * 1000:.0f} ms. The edit is timed "
        f"{EDITS} times (median / max), {EDIT_PAUSE * 1000:.0f} ms apart. Data built in "
        f"{built:.0f} s.\n"
    )
    headers = [
        "holders",
        "operation",
        "duration s",
        "queries",
        "POSTs during (other / same)",
        "other p99 ms",
        "other max ms",
        "same p99 ms",
        "same max ms",
        "<= 300 ms",
    ]
    print(table(headers, [row(outcome) for outcome in outcomes]))
    notes = [f"- {o.holders:,} holders, delete: {o.note}" for o in outcomes if o.note]
    print("\n" + "\n".join(notes))
    print(
        "\nAfter each operation a holder who did not POST got a new ETag, a 200 for the old "
        "one, the change in the body and an `updated` that did not go back (checked)."
    )
    measured = [o for o in outcomes if not o.operation.startswith("(")]
    met = all(o.met for o in measured)
    for outcome in measured:
        if not outcome.met:
            slow = [p for p in outcome.posts if p.seconds > TARGET]
            worst = max(slow, key=lambda p: p.seconds)
            print(
                f"- MISSED: {outcome.holders:,} holders, {outcome.operation}: {len(slow)} POSTs "
                f"over {TARGET * 1000:.0f} ms, worst {worst.seconds * 1000:,.0f} ms "
                f"({worst.kind}: {worst.action} {worst.item_id} -> {worst.status})"
            )
    print("\nAll targets: " + ("met" if met else "MISSED"))
    print(f"(whole mode: {time.monotonic() - started:.0f} s)")
    return met
