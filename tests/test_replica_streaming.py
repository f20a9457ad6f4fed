"""The example site on a real PostgreSQL primary and streaming replica (docs/deploying.md,
"Read replicas"): a listener sees their own writes, ETags and ``updated`` never go back, and
a replica that is paused, lagging or down costs at most about a second, never a 503.

``scripts/pg-replica.sh`` makes the two clusters on loopback ports of the run's own; the
site runs under gunicorn (one worker, so one router decides) with ``DATABASE_URL`` on the
primary and ``DATABASE_REPLICA_URL`` on the replica. Where reads go is seen from outside,
in the replica's ``pg_stat_activity``: the last statement of the site's connection there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from gunicorn_server import EXAMPLE, Server, free_port, gunicorn, site_environment

from dch_favourites.routers import ReplicaRouter

# Slow (two clusters, a site under gunicorn): `replica`, which the tox envs leave out; CI runs
# it once, in its PostgreSQL run.
pytestmark = [pytest.mark.postgresql, pytest.mark.live, pytest.mark.replica]

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pg-replica.sh"
LIST = "/v2/user/favourites"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Clusters:
    """The primary and the replica: their folder and ports."""

    folder: str
    primary_port: int
    replica_port: int

    def script(self, command: str) -> None:
        subprocess.run([SCRIPT, command, self.folder], check=True, timeout=120)  # noqa: S603

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/postgres"

    def on_replica(self, sql: str, *params: Any) -> Any:
        """The first value of ``sql``'s first row, on the replica."""
        with psycopg.connect(self.url(self.replica_port), autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchone()[0] if cursor.description else None  # type: ignore[index]

    def now(self) -> Any:
        return self.on_replica("SELECT clock_timestamp()")

    def read_there(self, table: str, since: Any) -> bool:
        """Whether the site read ``table`` on the replica since ``since`` (its clock)."""
        return bool(
            self.on_replica(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND query_start >= %s AND query LIKE %s",
                since,
                f'%"{table}"%',
            )
        )

    def apply_delay(self, delay: str) -> None:
        """Replay on the replica ``delay`` behind the primary ("0" to catch up)."""
        self.on_replica(f"ALTER SYSTEM SET recovery_min_apply_delay = '{delay}'")
        self.on_replica("SELECT pg_reload_conf()")


@pytest.fixture(scope="module")
def clusters() -> Iterator[Clusters]:
    """A primary and its streaming replica; skips without PostgreSQL's server programs
    (fails under CI)."""
    if not glob("/usr/lib/postgresql/*/bin/initdb") and not os.environ.get("PG_BIN"):
        reason = "needs PostgreSQL's server programs (Debian's package postgresql)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    folder = tempfile.mkdtemp(prefix="dch-favourites-replica-")
    made = Clusters(folder, free_port(), free_port())
    try:
        subprocess.run(  # noqa: S603
            [SCRIPT, "start", folder, str(made.primary_port), str(made.replica_port)],
            check=True,
            timeout=120,
        )
        yield made
    finally:
        made.script("stop")
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Site:
    """The example site on the clusters, and the demo listener's token."""

    server: Server
    token: str

    def request(
        self,
        method: str,
        path: str,
        data: str | None = None,
        anonymous: bool = False,
        **headers: str,
    ) -> requests.Response:
        if not anonymous:
            headers["Authorization"] = f"Bearer {self.token}"
        return requests.request(
            method, self.server.url + path, headers=headers, data=data, timeout=30
        )

    def ids(self, response: requests.Response) -> list[str]:
        return [entry["id"] for entry in response.json()["_links"]["favourites"]]


@pytest.fixture(scope="module")
def site(clusters: Clusters, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``manage.py demo`` on the primary, then gunicorn with the replica."""
    tmp_path = tmp_path_factory.mktemp("replica-site")
    env = site_environment(
        DJANGO_DEBUG="0",
        DATABASE_URL=clusters.url(clusters.primary_port),
        DATABASE_REPLICA_URL=clusters.url(clusters.replica_port),
        DCH_JWT_KEY_FILE=str(tmp_path / "key.pem"),
    )
    demo = subprocess.run(
        [sys.executable, "manage.py", "demo"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    token = re.search(r"Bearer ([^']+)'", demo.stdout)
    assert token, demo.stdout + demo.stderr
    wait_for(lambda: clusters.on_replica("SELECT count(*) FROM oauth2_provider_accesstoken"))
    with gunicorn(tmp_path, env, 1) as server:
        yield Site(server, token[1])


def wait_for(condition: Callable[[], Any], seconds: float = 10) -> float:
    """Seconds until ``condition()`` held (polled), failing after ``seconds``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - start


def add(site: Site, item_id: str) -> requests.Response:
    posted = site.request("POST", LIST, data=f"action=add&id={item_id}", **FORM)
    assert posted.status_code == 200, posted.text
    assert item_id in site.ids(posted)
    return posted


def assert_own_writes(site: Site, before: requests.Response, posted: requests.Response) -> None:
    """Every way to ask for the list after the POST shows it; no ETag or `updated` goes back."""
    again = site.request("GET", LIST)
    assert (again.status_code, again.content, again.headers["ETag"]) == (
        200,
        posted.content,
        posted.headers["ETag"],
    )
    assert site.request("GET", LIST, **{"If-None-Match": posted.headers["ETag"]}).status_code == 304
    stale = site.request("GET", LIST, **{"If-None-Match": before.headers["ETag"]})
    assert (stale.status_code, stale.content) == (200, posted.content)
    # Not cached yet in German: its rows are read where the router reads.
    german = site.request("GET", LIST, **{"Accept-Language": "de"})
    assert site.ids(german) == site.ids(posted)
    updated = [r.json()["updated"] for r in (before, posted, again, stale, german)]
    assert updated == sorted(updated)
    assert updated[0] <= updated[1] == updated[-1]


def test_with_replay_paused_a_listener_sees_their_own_writes(
    clusters: Clusters, site: Site
) -> None:
    before = site.request("GET", LIST)
    clusters.on_replica("SELECT pg_wal_replay_pause()")
    try:
        posted = add(site, "24001")
        assert_own_writes(site, before, posted)
        item = site.request("GET", "/v2/concert/24001")
        assert (item.status_code, item.json()["favourited"]) == (200, True)
        # The replica still has the list without it.
        assert not clusters.on_replica(
            "SELECT count(*) FROM dch_favourites_favourite WHERE item_id = '24001'"
        )
    finally:
        clusters.on_replica("SELECT pg_wal_replay_resume()")


def test_a_replica_behind_within_the_bound_is_read_and_its_old_rows_are_read_again(
    clusters: Clusters, site: Site
) -> None:
    clusters.apply_delay("2s")  # well within ReplicaRouter.max_lag
    try:
        add(site, "24002")
        # Replayed: the replica is healthy, at most 2 s behind, when the next change comes.
        wait_for(
            lambda: clusters.on_replica(
                "SELECT count(*) FROM dch_favourites_favourite WHERE item_id = '24002'"
            )
        )
        before = site.request("GET", LIST)
        since = clusters.now()
        posted = add(site, "24003")
        assert_own_writes(site, before, posted)
        # The German rows were read on the replica, which had no 24003 yet.
        assert clusters.read_there("dch_favourites_favourite", since)
        assert not clusters.on_replica(
            "SELECT count(*) FROM dch_favourites_favourite WHERE item_id = '24003'"
        )
    finally:
        clusters.apply_delay("0")


def test_a_replica_lagging_past_the_bound_gets_no_reads_until_it_catches_up(
    clusters: Clusters, site: Site
) -> None:
    since = clusters.now()
    assert site.request("GET", "/v2/film/311", anonymous=True).status_code == 200
    assert clusters.read_there("dch_favourites_catalogueitem", since)
    clusters.apply_delay("1min")
    try:
        before = site.request("GET", LIST)
        posted = add(site, "24004")

        def on_primary() -> bool:
            since = clusters.now()
            assert site.request("GET", "/v2/film/311", anonymous=True).status_code == 200
            return not clusters.read_there("dch_favourites_catalogueitem", since)

        # The lag counts from the last transaction replayed, before this test began.
        assert wait_for(on_primary) <= ReplicaRouter.max_lag + 1.5
        assert_own_writes(site, before, posted)
    finally:
        clusters.apply_delay("0")

    def on_replica() -> bool:
        since = clusters.now()
        assert site.request("GET", "/v2/film/311", anonymous=True).status_code == 200
        return clusters.read_there("dch_favourites_catalogueitem", since)

    assert wait_for(on_replica) <= 3


def test_a_stopped_replica_costs_at_most_about_a_second_and_is_read_again_when_back(
    clusters: Clusters, site: Site
) -> None:
    clusters.script("stop-replica")
    try:
        start = time.monotonic()
        action = "add"
        while time.monotonic() - start < 2.5:  # past a few of the router's checks
            asked = time.monotonic()
            answers = [
                site.request("GET", LIST),
                site.request("GET", "/v2/film/311", anonymous=True),
                site.request("GET", "/v2/concert/24005"),
                site.request("POST", LIST, data=f"action={action}&id=24005", **FORM),
            ]
            assert [r.status_code for r in answers] == [200] * 4
            assert time.monotonic() - asked <= 1.5
            assert ("24005" in site.ids(answers[-1])) is (action == "add")
            action = "delete" if action == "add" else "add"
            time.sleep(0.2)
        before = site.request("GET", LIST)
        assert_own_writes(site, before, add(site, "24006"))
    finally:
        clusters.script("start-replica")
    back = clusters.now()

    def on_replica() -> bool:
        assert site.request("GET", "/v2/film/311", anonymous=True).status_code == 200
        return clusters.read_there("dch_favourites_catalogueitem", back)

    assert wait_for(on_replica) <= 3
