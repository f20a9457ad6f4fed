"""The example site's production profile: its settings from the environment, the demo's
secrets refused, gunicorn's access log without query strings, log lines an operator can
use, and ``check --deploy`` without the app's warnings."""

from __future__ import annotations

import base64
import json
import os
import re
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from cache_backends import require_redis
from gunicorn_server import EXAMPLE, free_port, gunicorn, signing_key, site_environment

SETTINGS_FILE = EXAMPLE / "demo_site" / "settings.py"
PG_URL = "postgres://dch:pw@db.internal:5432/dch"
SECRET_KEY = "production-like-secret-key-" + "k" * 50
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def example_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """The example site's settings module evaluated under ``env`` (nothing else set)."""
    for name in (
        "DJANGO_DEBUG",
        "DATABASE_URL",
        "REDIS_URL",
        "DJANGO_DB_POOL",
        "DATABASE_REPLICA_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("DCH_JWT_PRIVATE_KEY", signing_key())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


# -- Settings from the environment -----------------------------------------------------


def test_redis_url_makes_redis_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = example_settings(monkeypatch, REDIS_URL="redis://cache.internal:6379/2")
    assert settings["CACHES"] == {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://cache.internal:6379/2",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }
    assert settings["DCH_FAVOURITES"] == {}


def test_without_redis_url_the_cache_is_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert example_settings(monkeypatch)["CACHES"] == LOCMEM
    assert example_settings(monkeypatch, REDIS_URL="")["CACHES"] == LOCMEM
    assert example_settings(monkeypatch)["DCH_FAVOURITES"] == {}


def test_postgresql_in_production_uses_the_connection_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = example_settings(monkeypatch, DJANGO_DEBUG="0", DATABASE_URL=PG_URL)["DATABASES"][
        "default"
    ]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 10.0}
    assert database["OPTIONS"]["server_side_binding"] is True
    assert database["OPTIONS"]["prepare_threshold"] == 5
    assert database["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
    assert database["CONN_HEALTH_CHECKS"] is True

    sized = example_settings(
        monkeypatch,
        DJANGO_DEBUG="0",
        DATABASE_URL=PG_URL,
        DJANGO_DB_POOL_MIN_SIZE="2",
        DJANGO_DB_POOL_MAX_SIZE="8",
        DJANGO_DB_POOL_TIMEOUT="2.5",
    )["DATABASES"]["default"]
    assert sized["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 8, "timeout": 2.5}
    unbound = example_settings(
        monkeypatch, DJANGO_DEBUG="0", DATABASE_URL=PG_URL, DJANGO_DB_SERVER_SIDE_BINDING="0"
    )["DATABASES"]["default"]
    assert "server_side_binding" not in unbound["OPTIONS"]
    assert "prepare_threshold" not in unbound["OPTIONS"]


def test_a_replica_url_adds_the_replica_and_the_router(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgres://dch:pw@replica.internal:5432/dch"
    settings = example_settings(
        monkeypatch, DJANGO_DEBUG="0", DATABASE_URL=PG_URL, DATABASE_REPLICA_URL=url
    )
    replica = settings["DATABASES"]["replica"]
    assert (replica["HOST"], replica["NAME"], replica["CONN_MAX_AGE"]) == (
        "replica.internal",
        "dch",
        600,
    )
    assert replica["OPTIONS"] == {
        "server_side_binding": True,
        "prepare_threshold": 5,
        "connect_timeout": 1,
        "tcp_user_timeout": 1000,
        "options": "-c statement_timeout=1000",
    }
    assert settings["DATABASE_ROUTERS"] == ["dch_favourites.routers.ReplicaRouter"]
    without = example_settings(monkeypatch, DJANGO_DEBUG="0", DATABASE_URL=PG_URL)
    assert list(without["DATABASES"]) == ["default"]
    assert "DATABASE_ROUTERS" not in without


@pytest.mark.parametrize(
    ("env", "pooled"),
    [
        ({"DJANGO_DEBUG": "1"}, False),
        ({}, False),  # DEBUG is on unless DJANGO_DEBUG=0
        ({"DJANGO_DEBUG": "1", "DJANGO_DB_POOL": "1"}, True),
        ({"DJANGO_DEBUG": "0", "DJANGO_DB_POOL": "0"}, False),
    ],
)
def test_the_pool_follows_production_mode_or_the_flag(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], pooled: bool
) -> None:
    database = example_settings(monkeypatch, DATABASE_URL=PG_URL, **env)["DATABASES"]["default"]
    assert ("pool" in database.get("OPTIONS", {})) is pooled
    assert database["CONN_MAX_AGE"] == (0 if pooled else 60)
    assert (database.get("OPTIONS", {}).get("server_side_binding") is True) is pooled


def test_sqlite_never_gets_a_pool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    database = example_settings(
        monkeypatch, DJANGO_DEBUG="0", DJANGO_DB_POOL="1", DATABASE_URL=f"sqlite:///{tmp_path}/x"
    )["DATABASES"]["default"]
    assert database["OPTIONS"] == {"transaction_mode": "IMMEDIATE", "timeout": 30}
    assert database["CONN_MAX_AGE"] == 0


# -- check --deploy ---------------------------------------------------------------------


def check_deploy(tmp_path: Path, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=EXAMPLE,
        env=site_environment(
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY=SECRET_KEY,
            DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
            **env,
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout + result.stderr


def test_check_deploy_with_redis_shows_no_warning_of_the_app(tmp_path: Path) -> None:
    with_redis = check_deploy(tmp_path, REDIS_URL="redis://127.0.0.1:6379/13")
    without = check_deploy(tmp_path)

    assert "System check identified" in with_redis, with_redis
    assert re.findall(r"\(dch_favourites\.\w+\)", with_redis) == [], with_redis
    # The same site on the per-process cache: the throttle would count once per worker.
    assert re.findall(r"\(dch_favourites\.\w+\)", without) == ["(dch_favourites.W001)"], without


# -- gunicorn's access log ----------------------------------------------------------------


def test_the_access_log_records_no_query_string_nor_credential(tmp_path: Path) -> None:
    env = site_environment(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=SECRET_KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    secrets = ["sekrit-query-token-4242", "sekrit-x-value-4242", "sekrit-basic-4242"]
    basic = base64.b64encode(secrets[2].encode()).decode()  # no colon: all of it is "the user"
    with gunicorn(tmp_path, env, 1) as server:
        answers = [
            requests.get(f"{server.url}/v2/user/favourites?access_token={secrets[0]}", timeout=60),
            requests.post(
                f"{server.url}/v2/user/favourites?access_token={secrets[0]}",
                data={"action": "add", "id": "301"},
                timeout=60,
            ),
            requests.get(f"{server.url}/v2/schema/openapi.json?x={secrets[1]}", timeout=60),
            requests.get(
                f"{server.url}/v2/user/favourites?x={secrets[1]}",
                headers={"Authorization": f"Basic {basic}"},
                timeout=60,
            ),
        ]
    logs = server.logs()

    assert [answer.status_code for answer in answers] == [401, 401, 200, 401]
    assert answers[0].json() == {"message": "A Token was not found in the TokenStorage."}
    access = [line for line in logs.splitlines() if '"GET /v2/' in line or '"POST /v2/' in line]
    expected = [
        ('"GET /v2/user/favourites HTTP/1.1"', "401"),
        ('"POST /v2/user/favourites HTTP/1.1"', "401"),
        ('"GET /v2/schema/openapi.json HTTP/1.1"', "200"),
        ('"GET /v2/user/favourites HTTP/1.1"', "401"),
    ]
    assert len(access) == len(expected), logs
    for line, (request_line, status) in zip(access, expected, strict=True):
        assert re.fullmatch(
            r"127\.0\.0\.1 - - \[[^]]+\] " + re.escape(request_line) + f" {status} "
            r'\d+ \d+\.\d{6} "python-requests/[\d.]+"',
            line,
        ), line
    for secret in [*secrets, basic]:
        assert secret not in logs
    assert "?" not in "\n".join(access)


# -- Production refuses the demo's secrets ---------------------------------------------

DEMO_SECRET_KEY = "demo-only-not-secret-0b4c1e0e9f6d4a8f"
SECRET_KEY_LINE = (
    "ImproperlyConfigured: DJANGO_SECRET_KEY is missing or the demo's, and DEBUG is off: set "
    "it to a new random value, e.g. the output of python -c 'from django.core.management."
    "utils import get_random_secret_key; print(get_random_secret_key())'"
)
SIGNING_KEY_LINE = (
    "ImproperlyConfigured: DCH_JWT_PRIVATE_KEY is missing or the demo's, and DEBUG is off: "
    "set it to an RSA private key of your own in PEM (or DCH_JWT_KEY_FILE to a file holding "
    'one), e.g. DCH_JWT_PRIVATE_KEY="$(openssl genrsa 2048)"'
)


def production_environment(**env: str) -> dict[str, str]:
    """This environment without any of the site's variables, DEBUG off, plus ``env``."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DCH_JWT_", "DATABASE_URL", "REDIS_URL"))
    }
    return {**kept, "DJANGO_DEBUG": "0", **env}


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, SECRET_KEY_LINE),
        ({"DJANGO_SECRET_KEY": DEMO_SECRET_KEY}, SECRET_KEY_LINE),
        ({"DJANGO_SECRET_KEY": ""}, SECRET_KEY_LINE),
        # No key given: the demo's key file (example_project/var/), made or not, is refused.
        ({"DJANGO_SECRET_KEY": SECRET_KEY}, SIGNING_KEY_LINE),
        ({"DJANGO_SECRET_KEY": SECRET_KEY, "DCH_JWT_PRIVATE_KEY": ""}, SIGNING_KEY_LINE),
    ],
    ids=["no-secret", "demo-secret", "empty-secret", "no-signing-key", "empty-signing-key"],
)
def test_production_stops_before_serving_on_a_missing_or_demo_secret(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    database = tmp_path / "db.sqlite3"
    environment = production_environment(DATABASE_URL=f"sqlite:///{database}", **env)

    result = subprocess.run(  # what `make serve` runs before gunicorn
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=EXAMPLE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [line]
    assert not database.exists()


def test_production_serves_with_secrets_of_its_own_and_the_demo_needs_none(
    tmp_path: Path,
) -> None:
    production = production_environment(
        DJANGO_SECRET_KEY=SECRET_KEY,
        DCH_JWT_PRIVATE_KEY=signing_key(),
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
    )
    demo = production_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    del demo["DJANGO_DEBUG"]  # `make demo`: DEBUG on, nothing set

    for env in (production, demo):
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=EXAMPLE,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr


# -- Logs an operator can use ----------------------------------------------------------

LOG_LINE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) \[(?P<pid>\d+)\] (?P<rest>.*)"


def test_log_lines_carry_time_level_and_process_and_say_why(tmp_path: Path) -> None:
    """A refused Host header and a database without its tables (migrate forgotten), under
    gunicorn with DEBUG off: one line each, with time, level, process id and the reason."""
    env = site_environment(
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}",
    )
    with gunicorn(tmp_path, env, 1) as server:
        unmigrated = requests.get(f"{server.url}/v2/film/301", timeout=60)
        wrong_host = requests.get(
            f"{server.url}/v2/film/301", headers={"Host": "evil.example"}, timeout=60
        )
        workers = {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", server.logs())}
    stderr = server.stderr.read_text(encoding="utf-8")

    assert (unmigrated.status_code, unmigrated.json()) == (
        503,
        {"error": {"message": "Service temporarily unavailable."}},
    )
    assert wrong_host.status_code == 400
    site_lines = [
        match.groupdict()
        for match in map(re.compile(LOG_LINE).fullmatch, stderr.splitlines())
        if match and not match["rest"].startswith("gunicorn")
    ]
    [worker] = workers
    assert site_lines == [
        {
            "level": "ERROR",
            "pid": str(worker),
            "rest": "dch_favourites: Database not migrated: no such table: "
            "dch_favourites_catalogueitem. Run `python manage.py migrate`.",
        },
        {
            "level": "ERROR",
            "pid": str(worker),
            "rest": "django.request: Service Unavailable: /v2/film/301",
        },
        {
            "level": "ERROR",
            "pid": str(worker),
            "rest": "django.security.DisallowedHost: Invalid HTTP_HOST header: 'evil.example'. "
            "You may need to add 'evil.example' to ALLOWED_HOSTS.",
        },
    ], stderr
    assert "Traceback" not in stderr


def test_gunicorns_control_socket_is_off_unless_a_run_names_one(tmp_path: Path) -> None:
    home = tmp_path / "home"  # where gunicorn's default, shared by the user's runs, would be
    env = site_environment(
        DJANGO_DEBUG="0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        HOME=str(home),
        XDG_RUNTIME_DIR="",
    )
    with gunicorn(tmp_path, env, 1, "--log-level", "debug") as server:
        deadline = time.monotonic() + 30  # the arbiter logs it in a thread of its own
        while "Control socket disabled" not in server.logs():
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.1)
        assert not (home / ".gunicorn").exists()

    named = tmp_path / "run-1.ctl"
    with gunicorn(tmp_path, {**env, "GUNICORN_CONTROL_SOCKET": str(named)}, 1) as server:
        deadline = time.monotonic() + 30  # the arbiter opens it in a thread of its own
        while not named.is_socket():
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.1)
    assert not (home / ".gunicorn").exists()


# -- The documented commands ------------------------------------------------------------

DEPLOYING = (EXAMPLE.parent / "docs" / "deploying.md").read_text(encoding="utf-8")
CLEAR_CACHE = 'python manage.py shell -c "from django.core.cache import cache; cache.clear()"'


def test_the_documented_command_after_a_restore_empties_the_shared_cache(tmp_path: Path) -> None:
    url = require_redis()  # the suite's own Redis (or DCH_TEST_REDIS_URL's), never another's
    assert f"{CLEAR_CACHE}\n" in DEPLOYING
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.set(":1:dch_favourites:document:1:stale", b"old body")
    env = site_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    env["REDIS_URL"] = url

    subprocess.run(  # noqa: S603 (the documented line, split as the shell would)
        shlex.split(CLEAR_CACHE.replace("python", sys.executable, 1)),
        cwd=EXAMPLE,
        env=env,
        check=True,
        timeout=120,
    )

    assert client.dbsize() == 0


def makefile_line(text: str) -> int:
    """The number of the Makefile's line that starts with ``text``."""
    lines = (EXAMPLE.parent / "Makefile").read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(text))


@pytest.mark.readme
def test_make_serve(tmp_path: Path) -> None:
    """`make serve` in a fresh copy: its own virtualenv with the production group, migrate,
    then gunicorn with two workers on Redis, answering with the access log as documented.
    Without a secret of its own it stops before migrating, with one line saying which."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", "staticfiles")
    for name in ("pyproject.toml", "README.md", "LICENSE", "Makefile"):
        shutil.copy2(EXAMPLE.parent / name, checkout / name)
    for name in ("dch_favourites", "example_project"):
        shutil.copytree(EXAMPLE.parent / name, checkout / name, ignore=ignore)
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            # MAKE*: a make of its own, also when the suite runs under `make test`.
            (
                "DJANGO_",
                "DCH_JWT_",
                "DATABASE_URL",
                "PYTHON",
                "VIRTUAL_ENV",
                "REDIS",
                "MAKE",
                "MFLAGS",
            )
        )
    }
    env.update(
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=require_redis(),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
    )
    refused = subprocess.run(
        ["make", "serve"],  # noqa: S607
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert refused.returncode != 0
    # After pip's output of the first install: the one line, then make's own.
    assert refused.stderr.splitlines()[-2:] == [
        SECRET_KEY_LINE,
        f"make: *** [Makefile:{makefile_line('serve:') + 1}: serve] Error 1",
    ]
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "db.sqlite3").exists()

    env.update(DJANGO_SECRET_KEY=SECRET_KEY, DCH_JWT_PRIVATE_KEY=signing_key())
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["make", "serve"],  # noqa: S607
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        while "Booting worker with pid" not in log.read_text(encoding="utf-8"):
            assert server.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(1)
        answer = requests.get(
            f"http://127.0.0.1:{port}/v2/user/favourites?access_token=sekrit-4242", timeout=120
        )
        assert answer.status_code == 401
        assert answer.json() == {"message": "A Token was not found in the TokenStorage."}
        venv = checkout / ".venv" / "bin" / "python"
        listed = subprocess.run(  # noqa: S603
            [str(venv), "-m", "pip", "list", "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        names = {package["name"].lower() for package in json.loads(listed)}
        assert {"gunicorn", "redis", "psycopg-pool", "dch-favourites"} <= names
        assert names & {"pytest", "tox", "mypy", "ruff"} == set()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    output = log.read_text(encoding="utf-8")
    assert output.count("Booting worker with pid") == 2, output
    assert '"GET /v2/user/favourites HTTP/1.1" 401 ' in output
    assert "sekrit-4242" not in output
