"""Fixtures: the API client with a real bearer token, and the spec's example items."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from cache_backends import CACHE_BACKENDS, cache_settings, require_redis
from django.db import connection
from django.test import Client
from endpoints import URL

from dch_favourites.catalogue_import import import_catalogue
from dch_favourites.models import Favourite
from dch_favourites.signals import favourite_added, favourite_removed
from factories import AccessTokenFactory, UserFactory

SPEC_ITEMS_FILE = Path(__file__).parent / "data" / "spec_items.json"
SPEC_BODY_FILE = Path(__file__).parent / "data" / "spec_body.json"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgresql" in item.keywords and not on_postgres:
            item.add_marker(skip)


def server_threads_left(grace: float = 5.0) -> list[str]:
    """Request threads of a test server (live or threaded) still alive after ``grace`` s."""
    deadline = time.monotonic() + grace
    while True:
        left = [t.name for t in threading.enumerate() if "process_request_thread" in t.name]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    # A request thread left waiting on a kept-alive connection wakes up at interpreter
    # exit, when the client's socket is collected, and Python aborts if it writes to
    # stderr then (CI saw exit -6 after every test had passed). Clients close their
    # sessions and the threaded server joins its threads; this holds them to it.
    left = server_threads_left()
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                f"test server threads outlived the tests: {', '.join(left)} "
                "(a client left a kept-alive connection open)",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


class ApiClient:
    """A client app: one listener, one bearer token, JSON answers."""

    def __init__(self, token: Any) -> None:
        self.token = token
        self.user = token.user
        self.client = Client()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token.token}", **(extra or {})}

    def get(self, url: str = URL, **extra: str) -> Any:
        return self.client.get(url, **self.headers(extra))

    def post(
        self, data: Any = None, url: str = URL, content_type: str | None = None, **extra: str
    ) -> Any:
        if content_type is None:
            return (
                self.client.post(
                    url,
                    data,
                    content_type="application/x-www-form-urlencoded",
                    **self.headers(extra),
                )
                if isinstance(data, str)
                else self.client.post(url, data or {}, **self.headers(extra))
            )
        return self.client.post(url, data, content_type=content_type, **self.headers(extra))

    def form(self, **fields: Any) -> Any:
        """POST form-encoded fields; list values repeat the key (id=a&id=b)."""
        from urllib.parse import urlencode

        return self.post(urlencode(fields, doseq=True))


@pytest.fixture
def listener(db: Any) -> Any:
    return UserFactory(username="listener")


@pytest.fixture
def token(listener: Any) -> Any:
    return AccessTokenFactory(user=listener)


@pytest.fixture
def api(token: Any) -> ApiClient:
    return ApiClient(token)


@pytest.fixture
def make_api(db: Any) -> Callable[..., ApiClient]:
    def make(**token_fields: Any) -> ApiClient:
        return ApiClient(AccessTokenFactory(**token_fields))

    return make


@pytest.fixture
def spec_items(db: Any) -> list[dict[str, Any]]:
    """The three items of the spec's example, imported with their timestamps."""
    records = json.loads(SPEC_ITEMS_FILE.read_text(encoding="utf-8"))
    import_catalogue(records)
    return records


@pytest.fixture
def spec_body() -> dict[str, Any]:
    return json.loads(SPEC_BODY_FILE.read_text(encoding="utf-8"))


class Heard(NamedTuple):
    """One ``favourite_added`` or ``favourite_removed`` as a receiver got it."""

    signal: str  # "added" or "removed"
    user_pk: Any
    items: tuple[str, ...]
    source: str


@pytest.fixture
def heard() -> Iterator[list[Heard]]:
    """Every favourite_added / favourite_removed sent from now on, in order.

    Only signals sent by ``Favourite`` are heard, so a wrong sender shows as a missing one.
    """
    seen: list[Heard] = []

    def receiver(signal: Any, user: Any, items: Any, source: Any, **kwargs: Any) -> None:
        kind = "added" if signal is favourite_added else "removed"
        seen.append(Heard(kind, user.pk, items, source))

    for signal in (favourite_added, favourite_removed):
        signal.connect(receiver, sender=Favourite, dispatch_uid="tests.heard")
    yield seen
    for signal in (favourite_added, favourite_removed):
        signal.disconnect(sender=Favourite, dispatch_uid="tests.heard")


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _no_language_leaks() -> Any:
    """LocaleMiddleware leaves the last request's language active; start each test clean."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _empty_caches() -> Any:
    """Every test starts with empty caches: documents and throttle counts of one test must
    not answer another's (SQLite reuses primary keys after a rollback)."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield
    for cache in caches.all():
        cache.clear()


@pytest.fixture(params=sorted(CACHE_BACKENDS))
def cache_backend(request: Any, settings: Any) -> Any:
    """Run the test once per cache backend as the default cache, empty: "locmem" and
    "redis" (the production profile)."""
    from django.core.cache import caches

    if request.param == "redis":
        require_redis()
    settings.CACHES = {"default": cache_settings(request.param)}
    configured = list(settings.CACHES)
    for alias in configured:
        caches[alias].clear()
    yield request.param
    for alias in configured:
        with contextlib.suppress(Exception):  # a test may have pointed it at a dead server
            caches[alias].clear()


@pytest.fixture(params=[False, True], ids=["oauth2", "oidc"])
def oidc(request: Any, settings: Any) -> bool:
    """The sign-in under oauthlib's OAuth 2 server, then its OpenID Connect one (``OIDC_ENABLED``).

    Modules that sign in take it with ``pytest.mark.usefixtures("oidc")``.
    """
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ENABLED": request.param}
    return bool(request.param)
