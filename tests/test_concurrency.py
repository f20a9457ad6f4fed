"""Concurrent writers against a real threaded server, on PostgreSQL and on SQLite.

Each round fires 32 POSTs at once (plus a few GETs): adds and deletes of the same and of
different items, by one listener and by several, form-encoded and JSON, some sent twice as
a double-tapping app would. The answers are then checked against a sequential model: for
each listener, ordering the answers by their top-level ``updated`` must replay as one
change after another, each effective change moving ``updated`` and ``version`` by exactly
one step, and the list in the database must be the one the last answer showed.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection
from django.db.models import Count
from django.test import override_settings
from endpoints import URL
from threaded_server import ConnectionFactory, server_database, serving, thread_connection

from dch_favourites.models import CatalogueItem, Favourite, FavouriteListState
from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, CatalogueItemFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

ROUNDS = 10
POSTS_PER_ROUND = 32
GETS_PER_ROUND = 8
HAL = "application/hal+json; charset=utf-8"


@dataclass(frozen=True)
class Call:
    """One request of a round: a POST (``action`` and ``ids``) or a GET (``action`` None)."""

    listener: int
    action: str | None = None
    ids: tuple[str, ...] = ()
    as_json: bool = False


@dataclass(frozen=True)
class Answer:
    """What came back, and when the request was in flight."""

    call: Call
    status: int
    content_type: str
    updated: int
    ids: frozenset[str]
    listed: tuple[str, ...]
    started: float
    finished: float
    message: str = ""


def apply(call: Call, before: frozenset[str]) -> frozenset[str]:
    """The list a change leaves behind when it runs alone."""
    if call.action == "add":
        return before | set(call.ids)
    return before - set(call.ids)


def send(base: str, token: str, call: Call, barrier: threading.Barrier) -> Answer:
    headers = {"Authorization": f"Bearer {token}"}
    barrier.wait()
    started = time.monotonic()
    if call.action is None:
        response = requests.get(base + URL, headers=headers, timeout=120)
    elif call.as_json:
        body = {"action": call.action, "id": list(call.ids)}
        response = requests.post(base + URL, json=body, headers=headers, timeout=120)
    else:
        fields = [("action", call.action), *(("id", item_id) for item_id in call.ids)]
        response = requests.post(base + URL, data=fields, headers=headers, timeout=120)
    finished = time.monotonic()
    body = (
        response.json()
        if response.headers.get("Content-Type", "").startswith("application/")
        else {}
    )
    listed = tuple(entry["id"] for entry in body.get("_links", {}).get("favourites", []))
    return Answer(
        call,
        response.status_code,
        response.headers.get("Content-Type", ""),
        body.get("updated", -1),
        frozenset(listed),
        listed,
        started,
        finished,
        body.get("error", {}).get("message", ""),
    )


def fire(base: str, tokens: list[str], calls: list[Call]) -> list[Answer]:
    """Send every call at the same instant, each from its own thread."""
    barrier = threading.Barrier(len(calls))
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(send, base, tokens[call.listener], call, barrier) for call in calls]
        return [future.result() for future in futures]


def list_of(user: Any) -> frozenset[str]:
    return frozenset(Favourite.objects.filter(user=user).values_list("item_id", flat=True))


def state_of(user: Any) -> tuple[int, int]:
    state = FavouriteListState.objects.filter(user=user).values_list("version", "updated").first()
    return state or (0, 0)


def check_listener_round(
    answers: list[Answer], before: frozenset[str], state_before: tuple[int, int]
) -> tuple[frozenset[str], int]:
    """Replay one listener's answers of a round in ``updated`` order.

    Every effective change answers with the ``updated`` it created and the list right after
    it; a request that changed nothing answers with the state it found. So, in ``updated``
    order, each new state must follow from the one before by one of the requests that
    answered it, and every other request that answered it must have found nothing to do.
    Returns the list the last change left and how many changes were effective.
    """
    updated_before = state_before[1]
    posts = [answer for answer in answers if answer.call.action is not None]
    shown: dict[int, frozenset[str]] = {updated_before: before}
    for answer in posts:
        assert answer.updated >= updated_before, "an answer went behind the list's state"
        assert len(answer.listed) == len(answer.ids), "an answer listed an item twice"
        assert shown.setdefault(answer.updated, answer.ids) == answer.ids, (
            "two answers with the same `updated` showed different lists"
        )
    previous = before
    for updated in sorted(shown):
        current = shown[updated]
        at_this_state = [answer.call for answer in posts if answer.updated == updated]
        if updated == updated_before:
            assert all(apply(call, current) == current for call in at_this_state)
            continue
        assert current != previous, "`updated` moved but the list did not change"
        assert any(apply(call, previous) == current for call in at_this_state), (
            "no request explains this change"
        )
        assert all(
            apply(call, previous) == current or apply(call, current) == current
            for call in at_this_state
        ), "a request that changed nothing answered a state it could have changed"
        previous = current
    for answer in answers:
        if answer.call.action is None:
            # A GET reads its `updated` with the token and its rows a moment later: the rows
            # may be newer than the `updated`, never older.
            assert answer.updated in shown
            assert any(
                shown_list == answer.ids
                for updated, shown_list in shown.items()
                if updated >= answer.updated
            )
    return previous, len(shown) - 1


def check_never_backwards(answers: list[Answer]) -> None:
    """An answer that began after another had arrived never shows an older ``updated``."""
    by_listener: dict[int, list[Answer]] = defaultdict(list)
    for answer in answers:
        by_listener[answer.call.listener].append(answer)
    for listener_answers in by_listener.values():
        for earlier in listener_answers:
            for later in listener_answers:
                if later.started > earlier.finished:
                    assert later.updated >= earlier.updated


def plan_round(rng: random.Random, items: list[str], listeners: int) -> list[Call]:
    """32 POSTs: mostly listener 0, the rest spread, few items so requests collide."""
    calls: list[Call] = []
    while len(calls) < POSTS_PER_ROUND:
        listener = 0 if rng.random() < 0.5 else rng.randrange(1, listeners)
        action = rng.choice(("add", "delete"))
        ids = tuple(rng.sample(items, rng.choice((1, 1, 2, 3))))
        call = Call(listener, action, ids, as_json=rng.random() < 0.3)
        calls.append(call)
        if rng.random() < 0.2 and len(calls) < POSTS_PER_ROUND:
            calls.append(call)  # the app's double tap
    calls += [Call(rng.randrange(listeners)) for _ in range(GETS_PER_ROUND)]
    rng.shuffle(calls)
    return calls


@pytest.fixture
def database(tmp_path: Path) -> Any:
    with server_database(tmp_path) as factory:
        yield factory


def test_sqlite_runs_with_the_example_site_settings(database: ConnectionFactory | None) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert connection.settings_dict["NAME"].endswith("server.sqlite3")


@override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": None})
def test_concurrent_adds_and_deletes_stay_exact(database: ConnectionFactory | None) -> None:
    rng = random.Random(20260101)
    listeners = [UserFactory(username=f"concurrent-{n}") for n in range(4)]
    tokens = [AccessTokenFactory(user=user).token for user in listeners]
    items = [CatalogueItemFactory(id=str(7000 + n)).id for n in range(8)]
    add_favourites(listeners[0], items[:3])
    add_favourites(listeners[1], items[2:4])
    effective_total = 0
    versions_at_start = [state_of(user)[0] for user in listeners]

    with serving(database) as base:
        for _round in range(ROUNDS):
            lists_before = [list_of(user) for user in listeners]
            states_before = [state_of(user) for user in listeners]

            answers = fire(base, tokens, plan_round(rng, items, len(listeners)))

            assert [answer.status for answer in answers] == [200] * len(answers)
            assert {answer.content_type for answer in answers} == {HAL}
            check_never_backwards(answers)
            for number, user in enumerate(listeners):
                mine = [answer for answer in answers if answer.call.listener == number]
                expected, changes = check_listener_round(
                    mine, lists_before[number], states_before[number]
                )
                version, updated = state_of(user)
                assert list_of(user) == expected
                assert version == states_before[number][0] + changes
                assert updated >= states_before[number][1] + changes
                effective_total += changes
            duplicates = Favourite.objects.values("user_id", "item_id").annotate(n=Count("id"))
            assert not duplicates.filter(n__gt=1).exists()

        # After the storm a plain GET shows every list as the database holds it.
        for number, user in enumerate(listeners):
            response = requests.get(
                base + URL, headers={"Authorization": f"Bearer {tokens[number]}"}, timeout=30
            )
            body = response.json()
            assert response.status_code == 200
            assert body["updated"] == state_of(user)[1]
            assert [entry["id"] for entry in body["_links"]["favourites"]] == list(
                Favourite.objects.filter(user=user)
                .order_by("-added", "-id")
                .values_list("item_id", flat=True)
            )
    versions_at_end = [state_of(user)[0] for user in listeners]
    assert sum(versions_at_end) - sum(versions_at_start) == effective_total
    assert effective_total >= ROUNDS  # the rounds did change things


UNKNOWN = re.compile(r"\AUnknown catalogue id: (.+)\.\Z")


@override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": None})
def test_add_while_the_item_is_deleted(database: ConnectionFactory | None) -> None:
    rng = random.Random(7)
    listeners = [UserFactory(username=f"racer-{n}") for n in range(4)]
    tokens = [AccessTokenFactory(user=user).token for user in listeners]
    keeper = CatalogueItemFactory(id="8999").id

    with serving(database) as base:
        for round_number in range(5):
            doomed = [CatalogueItemFactory(id=f"8{round_number}0{n}").id for n in range(4)]
            add_favourites(listeners[0], doomed[:2])
            add_favourites(listeners[1], doomed[1:3])
            calls = [
                Call(rng.randrange(len(listeners)), "add", tuple(rng.sample([*doomed, keeper], 2)))
                for _ in range(28)
            ]
            barrier = threading.Barrier(len(calls) + len(doomed))

            def delete(
                item_id: str,
                factory: Callable[[], Any] | None = database,
                barrier: threading.Barrier = barrier,
            ) -> None:
                with thread_connection(factory):
                    item = CatalogueItem.objects.get(pk=item_id)
                    barrier.wait()
                    item.delete()

            with ThreadPoolExecutor(max_workers=len(calls) + len(doomed)) as pool:
                posts = [
                    pool.submit(send, base, tokens[call.listener], call, barrier) for call in calls
                ]
                deletes = [pool.submit(delete, item_id) for item_id in doomed]
                answers = [future.result() for future in posts]
                for future in deletes:
                    future.result()

            for answer in answers:
                assert answer.status in (200, 404), answer
                assert answer.content_type == HAL
            for answer in answers:
                if answer.status == 404:
                    # Refused whole, naming only ids of this request that were deleted.
                    unknown = UNKNOWN.match(answer.message)
                    assert unknown is not None, answer.message
                    named = set(unknown.group(1).split(", "))
                    assert named <= set(answer.call.ids) & set(doomed)
                else:
                    assert answer.ids >= set(answer.call.ids) - set(doomed)
            assert not CatalogueItem.objects.filter(pk__in=doomed).exists()
            assert not Favourite.objects.filter(item_id__in=doomed).exists()
            assert not Favourite.objects.exclude(
                item_id__in=CatalogueItem.objects.values("pk")
            ).exists()
            for user, token in zip(listeners, tokens, strict=True):
                response = requests.get(
                    base + URL, headers={"Authorization": f"Bearer {token}"}, timeout=30
                )
                assert response.status_code == 200
                listed = [entry["id"] for entry in response.json()["_links"]["favourites"]]
                assert set(listed) == list_of(user)
                assert not set(listed) & set(doomed)
