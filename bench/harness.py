"""Requests through Django's WSGI handler, timed round by round."""

import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.core.handlers.wsgi import WSGIHandler

#: The three implementations of the endpoint (GET and POST), by name, and where each is mounted.
VARIANTS = {
    "app": "/v2/user/favourites",
    "floor": "/floor/user/favourites",
    "plain DRF": "/plain-drf/user/favourites",
}
#: The limit (``bench/limit.py``): GET of an unchanged list only, so not among the variants.
LIMIT = "/limit/user/favourites"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Client:
    """A WSGI client with no test machinery in between: the handler a server would call."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()

    def request(
        self, method: str, path: str, token: str, body: dict[str, str] | None = None, **headers: str
    ) -> Answer:
        data = urlencode(body or {}).encode()
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "HTTP_ACCEPT": "application/json",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if data:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
            environ["CONTENT_LENGTH"] = str(len(data))
        for name, value in headers.items():
            environ["HTTP_" + name.upper()] = value
        started: list[object] = []

        def start_response(
            status: str, response_headers: list[tuple[str, str]], *exc: object
        ) -> None:
            started.extend((status, response_headers))

        result = self.handler(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            result.close()
        status, response_headers = started
        return Answer(int(str(status).split()[0]), dict(response_headers), content)  # type: ignore[arg-type]


@dataclass
class Timings:
    """Wall-clock times in microseconds per variant."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, micros: float) -> None:
        self.samples.setdefault(name, []).append(micros)

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])


def rotation(names: list[str], round_number: int) -> list[str]:
    """The order of one round: each variant goes first, second, ... in turn."""
    shift = round_number % len(names)
    return names[shift:] + names[:shift]


def interleaved(
    rounds: int,
    calls: dict[str, Callable[[], object]],
    warmup: int = 20,
    before: dict[str, Callable[[], object]] | None = None,
) -> Timings:
    """Run each call once per round, rotating the order each round; time each call.

    ``before[name]``, when given, runs untimed right before each call of ``name`` (e.g. to
    empty the app's document cache, so that a cache miss is measured).
    """
    names = list(calls)
    before = before or {}

    def nothing() -> None:
        return None

    for _ in range(warmup):
        for name in names:
            before.get(name, nothing)()
            calls[name]()
    timings = Timings()
    for round_number in range(rounds):
        for name in rotation(names, round_number):
            before.get(name, nothing)()
            started = time.perf_counter_ns()
            calls[name]()
            timings.add(name, (time.perf_counter_ns() - started) / 1000)
    return timings
