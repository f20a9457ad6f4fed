"""The site under a real threaded HTTP server in this process, one database connection per
request thread, for the concurrency and fault tests.

Django's own live server shares a single connection among its threads when the test
database is SQLite in memory, which serialises requests in Python and mixes their
transactions. These tests need what a deployment has: every request on its own connection.
On PostgreSQL that is the test database as it is. On SQLite it is a file database made for
the test, with the example site's connection options (``transaction_mode: IMMEDIATE`` and
a 30 s busy timeout), since an in-memory database cannot be opened twice.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

ConnectionFactory = Callable[[], BaseDatabaseWrapper]


class _QuietRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ThreadedServer(ThreadedWSGIServer):
    """Django's threaded WSGI server; each request thread may get a connection of its own.

    No request thread outlives the server: ``server_close`` wakes every thread still
    waiting on a kept-alive connection and joins them all. A daemon thread left behind
    wakes up at interpreter exit, when a client's socket is collected, and Python aborts
    if it writes to stderr then.
    """

    # Dozens of clients connect at the same instant.
    request_queue_size = 128
    daemon_threads = False
    block_on_close = True

    def __init__(self, connection_factory: ConnectionFactory | None) -> None:
        super().__init__(("127.0.0.1", 0), _QuietRequestHandler, allow_reuse_address=False)
        self.set_app(WSGIHandler())
        self.connection_factory = connection_factory
        self.open_requests: set[socket.socket] = set()
        self.open_requests_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.open_requests_lock:
            self.open_requests.add(request)
        try:
            if self.connection_factory is not None:
                connections[DEFAULT_DB_ALIAS] = self.connection_factory()
            # The base class closes this thread's connections when the request is done.
            super().process_request_thread(request, client_address)
        finally:
            with self.open_requests_lock:
                self.open_requests.discard(request)

    def server_close(self) -> None:
        with self.open_requests_lock:
            waiting = list(self.open_requests)
        for request in waiting:
            # A thread reading the next request of a kept-alive connection sees its end.
            with suppress(OSError):
                request.shutdown(socket.SHUT_RD)
        super().server_close()  # joins the request threads (block_on_close)


@contextmanager
def serving(connection_factory: ConnectionFactory | None = None) -> Iterator[str]:
    """Run the site on a free loopback port; yields its base URL."""
    server = ThreadedServer(connection_factory)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def connection_factory(**overrides: Any) -> ConnectionFactory:
    """New connections of the default database's kind, with some settings changed."""
    current = connections[DEFAULT_DB_ALIAS]
    settings_dict = {**current.settings_dict, **overrides}
    wrapper_class = type(current)

    def connect() -> BaseDatabaseWrapper:
        return wrapper_class(settings_dict, DEFAULT_DB_ALIAS)

    return connect


@contextmanager
def server_database(directory: Path) -> Iterator[ConnectionFactory | None]:
    """A database the server threads and this thread share; yields the server's factory.

    PostgreSQL: the test database (the test must commit, ``transaction=True``), and
    ``None``, as every thread connects to it by itself. SQLite: a migrated file in
    ``directory`` that this thread uses until the block ends, and a factory of connections
    to it for the server's threads.
    """
    current = connections[DEFAULT_DB_ALIAS]
    if current.vendor != "sqlite":
        yield None
        return
    connect = connection_factory(NAME=str(directory / "server.sqlite3"))
    own = connect()
    connections[DEFAULT_DB_ALIAS] = own
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield connect
    finally:
        own.close()
        connections[DEFAULT_DB_ALIAS] = current


@contextmanager
def thread_connection(factory: ConnectionFactory | None) -> Iterator[None]:
    """Give a worker thread of the test its connection to the server's database."""
    if factory is not None:
        connections[DEFAULT_DB_ALIAS] = factory()
    try:
        yield
    finally:
        connections.close_all()
