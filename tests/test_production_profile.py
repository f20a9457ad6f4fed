"""The example site's production profile: its settings from the environment, gunicorn's
access log without query strings, and ``check --deploy`` without the app's warnings."""

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
from cache_backends import TEST_REDIS_URL, require_redis
from gunicorn_server import EXAMPLE, free_port, gunicorn, site_environment

SETTINGS_FILE = EXAMPLE / "demo_site" / "settings.py"
PG_URL = "postgres://dch:pw@db.internal:5432/dch"
SECRET_KEY = "production-like-secret-key-" + "k" * 50
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def example_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """The example site's settings module evaluated under ``env`` (nothing else set)."""
    for name in ("DJANGO_DEBUG", "DATABASE_URL", "REDIS_URL", "DJANGO_DB_POOL"):
        monkeypatch.delenv(name, raising=False)
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


# -- The README's commands ----------------------------------------------------------------

README = (EXAMPLE.parent / "README.md").read_text(encoding="utf-8")
CLEAR_CACHE = 'python manage.py shell -c "from django.core.cache import cache; cache.clear()"'


def test_the_readme_command_after_a_restore_empties_the_shared_cache(tmp_path: Path) -> None:
    require_redis()
    assert f"  {CLEAR_CACHE}\n" in README
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    client.set(":1:dch_favourites:document:1:stale", b"old body")
    env = site_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    env["REDIS_URL"] = TEST_REDIS_URL

    subprocess.run(  # noqa: S603 (the README's line, split as the shell would)
        shlex.split(CLEAR_CACHE.replace("python", sys.executable, 1)),
        cwd=EXAMPLE,
        env=env,
        check=True,
        timeout=120,
    )

    assert client.dbsize() == 0


@pytest.mark.readme
def test_make_serve(tmp_path: Path) -> None:
    """`make serve` in a fresh copy: its own virtualenv with the production group, migrate,
    then gunicorn with two workers on Redis, answering with the access log as documented."""
    require_redis()
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
        if not name.startswith(("DJANGO_", "DATABASE_URL", "PYTHON", "VIRTUAL_ENV", "REDIS"))
    }
    env.update(
        DJANGO_SECRET_KEY=SECRET_KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=TEST_REDIS_URL,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
    )
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
