#!/usr/bin/env python
"""Benchmark ``GET/POST /v2/user/favourites`` against a bare Django view and plain DRF.

    .venv/bin/python bench/run.py                      # everything below, in turn
    .venv/bin/python bench/run.py inprocess --db postgres   # or --db sqlite
    .venv/bin/python bench/run.py server               # gunicorn (2 workers) + wrk
    .venv/bin/python bench/run.py scale                # 1 000 000 favourites on PostgreSQL

PostgreSQL is reached at ``BENCH_POSTGRES`` (default ``postgres://postgres@127.0.0.1:5432``);
the benchmark drops and creates its own databases there (``dch_favourites_bench``,
``dch_favourites_bench_scale``, ``dch_favourites_bench_server``) and never touches others.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "example_project")]

POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432").rstrip("/")
SQLITE_FILE = Path(tempfile.gettempdir()) / "dch_favourites_bench.sqlite3"
SIZES = (10, 100, 1000)
UPDATED_PREFIX = re.compile(rb'\A\{"updated":\d+,')


def database_url(db: str, name: str = "dch_favourites_bench") -> str:
    return f"{POSTGRES}/{name}" if db == "postgres" else f"sqlite:///{SQLITE_FILE}"


def recreate(url: str) -> None:
    """A fresh, empty database at ``url``."""
    if url.startswith("sqlite"):
        SQLITE_FILE.unlink(missing_ok=True)
        return
    import psycopg

    base, _sep, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start_django(url: str, scale_url: str | None = None) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["BENCH_DATABASE_URL"] = url
    if scale_url:
        os.environ["BENCH_SCALE_DATABASE_URL"] = scale_url
    import django

    django.setup()


def migrate(database: str = "default") -> None:
    from django.core.management import call_command

    call_command("migrate", database=database, verbosity=0)


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({cpu}), Python {sys.version.split()[0]}"


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0])


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# In-process mode ------------------------------------------------------------------------


def expect(answer: object, status: int) -> object:
    if answer.status != status:  # type: ignore[attr-defined]
        raise AssertionError(f"expected {status}, got {answer.status}: {answer.body[:300]!r}")  # type: ignore[attr-defined]
    return answer


def inprocess(db: str, rounds: int, sizes: tuple[int, ...], profile: bool) -> bool:
    url = database_url(db)
    recreate(url)
    start_django(url)
    migrate()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.data import build
    from bench.harness import VARIANTS, Client, interleaved

    listeners = build(sizes)
    client = Client()
    engine = f"PostgreSQL {postgres_version()}" if db == "postgres" else "SQLite"
    print(f"\n## In process, {engine}: {machine()}\n")
    print(
        f"Medians of {rounds} interleaved rounds (after 20 warm-up rounds), microseconds per "
        "request through Django's WSGI handler with the example site's middleware.\n"
    )
    met = True
    rows: list[list[str]] = []
    queries: list[list[str]] = []
    for size in sizes:
        listener = listeners[size]
        token = listener.token

        # The three bodies must be the same bytes before any time is taken.
        answers = {name: expect(client.request("GET", path, token), 200) for name, path in VARIANTS.items()}
        bodies = {answer.body for answer in answers.values()}  # type: ignore[attr-defined]
        assert len(bodies) == 1, f"bodies differ at {size} favourites"
        body_size = len(bodies.pop())
        etags = {name: answer.headers["ETag"] for name, answer in answers.items()}  # type: ignore[attr-defined]
        spare = {"action": "add", "id": listener.spare_item}
        back = {"action": "delete", "id": listener.spare_item}
        changed = set()
        for name, path in VARIANTS.items():
            added = expect(client.request("POST", path, token, spare), 200).body  # type: ignore[attr-defined]
            removed = expect(client.request("POST", path, token, back), 200).body  # type: ignore[attr-defined]
            changed.add((UPDATED_PREFIX.sub(b"", added), UPDATED_PREFIX.sub(b"", removed)))
        assert len(changed) == 1, f"POST bodies differ at {size} favourites"
        etags = {
            name: expect(client.request("GET", path, token), 200).headers["ETag"]  # type: ignore[attr-defined]
            for name, path in VARIANTS.items()
        }

        def count(method: str, path: str, body: dict[str, str] | None = None, **headers: str) -> int:
            with CaptureQueriesContext(connection) as captured:
                client.request(method, path, token, body, **headers)
            return len(captured)

        for name, path in VARIANTS.items():
            etag = expect(client.request("GET", path, token), 200).headers["ETag"]  # type: ignore[attr-defined]
            queries.append(
                [
                    str(size), name,
                    str(count("GET", path)),
                    str(count("GET", path, If_None_Match=etag)),
                    str(count("POST", path, spare)),
                    str(count("POST", path, back)),
                ]
            )
        etags = {
            name: expect(client.request("GET", path, token), 200).headers["ETag"]  # type: ignore[attr-defined]
            for name, path in VARIANTS.items()
        }

        get = interleaved(
            rounds,
            {
                name: (lambda path=path: expect(client.request("GET", path, token), 200))
                for name, path in VARIANTS.items()
            },
        )
        not_modified = interleaved(
            rounds,
            {
                name: (
                    lambda path=path, etag=etags[name]: expect(
                        client.request("GET", path, token, If_None_Match=etag), 304
                    )
                )
                for name, path in VARIANTS.items()
            },
        )
        # Add then delete the same item, so the list is back to its size after each pair.
        from bench.harness import Timings

        add, delete = Timings(), Timings()
        names = list(VARIANTS)
        for round_number in range(rounds // 2 + 10):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                path = VARIANTS[name]
                started = time.perf_counter_ns()
                expect(client.request("POST", path, token, spare), 200)
                middle = time.perf_counter_ns()
                expect(client.request("POST", path, token, back), 200)
                ended = time.perf_counter_ns()
                if round_number >= 10:
                    add.add(name, (middle - started) / 1000)
                    delete.add(name, (ended - middle) / 1000)

        for label, timings in (("GET", get), ("304", not_modified), ("POST add", add), ("POST delete", delete)):
            app, floor, drf = (timings.median(n) for n in ("app", "floor", "plain DRF"))
            rows.append(
                [
                    str(size), label, f"{app:,.0f}", f"{floor:,.0f}", f"{drf:,.0f}",
                    f"{app / floor:.2f}x", f"{drf / app:.2f}x",
                ]
            )
            if label == "GET" and size >= 100:
                ok = app / floor <= 1.3 and drf / app >= 2
                met = met and ok
        print(f"- {size} favourites: body {body_size:,} bytes, identical in all three")
    print()
    print(
        table(
            ["favourites", "request", "app µs", "floor µs", "plain DRF µs", "app / floor", "DRF / app"],
            rows,
        )
    )
    print("\nQueries per request (savepoints and transaction statements included):\n")
    print(table(["favourites", "variant", "GET", "304", "POST add", "POST delete"], queries))
    print(
        "\nTarget (GET at 100 and 1000: app/floor <= 1.30 and DRF/app >= 2.00): "
        + ("met" if met else "MISSED")
    )
    if profile:
        profile_app(client, listeners[max(sizes)].token)
    return met


def profile_app(client: object, token: str) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0001)
    profiler.start()
    for _ in range(300):
        client.request("GET", "/v2/user/favourites", token)  # type: ignore[attr-defined]
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


# Server mode ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk(url: str, token: str, seconds: int, connections: int) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) of one bounded wrk run."""
    output = subprocess.run(
        [
            "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
            "-H", f"Authorization: Bearer {token}", "-H", "Accept: application/json", url,
        ],
        check=True, capture_output=True, text=True, timeout=seconds + 30,
    ).stdout
    if "Non-2xx" in output:
        raise AssertionError(f"wrk saw errors:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def server(seconds: int, repeats: int, sizes: tuple[int, ...], connections: int) -> bool:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    url = database_url("postgres", "dch_favourites_bench_server")
    recreate(url)
    start_django(url)
    migrate()
    from bench.data import build

    listeners = build(sizes)
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example_project")]),
    }
    gunicorn = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"), "--workers", "2",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "bench.wsgi:application",
        ],
        env=env, cwd=ROOT,
    )
    met = True
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"\n## gunicorn (2 sync workers) + wrk, PostgreSQL {postgres_version()}: {machine()}\n")
        print(
            f"wrk -t1 -c{connections} -d{seconds}s on 127.0.0.1, {repeats} runs per variant "
            "alternating app and floor; median requests/s and median p99.\n"
        )
        rows = []
        for size in sizes:
            token = listeners[size].token
            targets = {"app": f"{base}/v2/user/favourites", "floor": f"{base}/floor/user/favourites"}
            for path in targets.values():
                wrk(path, token, 1, connections)  # warm both workers
            runs: dict[str, list[tuple[float, float]]] = {"app": [], "floor": []}
            for repeat in range(repeats):
                order = ["app", "floor"] if repeat % 2 == 0 else ["floor", "app"]
                for name in order:
                    runs[name].append(wrk(targets[name], token, seconds, connections))
            import statistics

            rps = {name: statistics.median(r for r, _p in values) for name, values in runs.items()}
            p99 = {name: statistics.median(p for _r, p in values) for name, values in runs.items()}
            share = rps["app"] / rps["floor"]
            met = met and share >= 0.8
            rows.append(
                [
                    str(size), f"{rps['app']:,.0f}", f"{rps['floor']:,.0f}", f"{share:.0%}",
                    f"{p99['app']:.2f}", f"{p99['floor']:.2f}",
                ]
            )
        print(
            table(
                ["favourites", "app req/s", "floor req/s", "app / floor", "app p99 ms", "floor p99 ms"],
                rows,
            )
        )
        print("\nTarget (app >= 80% of the floor's requests/s): " + ("met" if met else "MISSED"))
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    return met


# Entry point ----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "inprocess", "server", "scale"])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--profile", action="store_true", help="pyinstrument profile of the app's GET")
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--repeats", type=int, default=3, help="wrk runs per variant")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    if args.mode == "all":
        # Each part in its own process: Django is set up once per process.
        failed = 0
        for part in (["inprocess", "--db", "postgres"], ["inprocess", "--db", "sqlite"], ["server"], ["scale"]):
            failed += subprocess.call([sys.executable, __file__, *part]) != 0
        return 1 if failed else 0
    if args.mode == "inprocess":
        met = inprocess(args.db, args.rounds, sizes, args.profile)
        return 0 if met or args.db == "sqlite" else 1
    if args.mode == "server":
        return 0 if server(args.seconds, args.repeats, (100, 1000), args.connections) else 1
    from bench.scale import scale

    return 0 if scale(args.rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
