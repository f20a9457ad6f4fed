"""docs/deploying.md, executed: its steps, in order and as they stand, on PostgreSQL and Redis.

The blocks under "The steps" run in one bash session in a fresh copy of the checkout, as a
reader types them (so `set -a && . ./production.env` carries to the blocks after it); then
`make serve` runs in the background with that environment, and the page's `curl` line, the
application and the staff user the steps made are tried against it. The substitutions: the
PostgreSQL server (host and port of the run's ``DATABASE_URL``), the role and database
``dch_api`` (a name of the run's own, dropped afterwards), the Redis URL (the suite's own
Redis), and port 8000 (a free one).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dj_database_url
import psycopg
import pytest
import requests
from cache_backends import require_redis
from gunicorn_server import free_port

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
HOST = "api.example.com"

# Slow (a virtualenv of its own): `readme`, which the tox envs leave out; CI runs it once,
# in its PostgreSQL run.
pytestmark = [pytest.mark.postgresql, pytest.mark.live, pytest.mark.readme]


def steps() -> list[str]:
    """The shell blocks of the page's "The steps", in order."""
    match = re.search(r"^## The steps\n(.*?)(?=^## )", PAGE, re.M | re.S)
    assert match, "docs/deploying.md has no section 'The steps'"
    return re.findall(r"^```sh\n(.*?)^```", match[1], re.M | re.S)


@pytest.fixture
def server() -> Iterator[dict[str, str]]:
    """The PostgreSQL server under test, and a role and database name of this run's own."""
    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    name = f"dch_api_test_{os.getpid()}"
    admin = (
        f"host={config['HOST']} port={config['PORT'] or 5432} user={config['USER']} "
        f"dbname=postgres password={config['PASSWORD'] or ''}"
    )
    yield {"host": str(config["HOST"]), "port": str(config["PORT"] or 5432), "name": name}
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_the_deploying_steps_make_a_server_that_signs_in_and_serves(
    tmp_path: Path, server: dict[str, str]
) -> None:
    redis_url = require_redis()
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", "staticfiles", "var")
    for name in ("pyproject.toml", "README.md", "LICENSE", "Makefile"):
        shutil.copy2(ROOT / name, checkout / name)
    for name in ("dch_favourites", "example_project"):
        shutil.copytree(ROOT / name, checkout / name, ignore=ignore)
    port = free_port()

    def as_here(text: str) -> str:
        return (
            text.replace("dch_api", server["name"])
            .replace("-h 127.0.0.1", f"-h {server['host']} -p {server['port']}")
            .replace("@127.0.0.1:5432/", f"@{server['host']}:{server['port']}/")
            .replace("redis://127.0.0.1:6379/0", redis_url)
            .replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        )

    blocks = [as_here(block) for block in steps()]
    assert [block.splitlines()[-1] for block in blocks[-2:]] == [
        "make serve",
        f"curl -s -H 'Host: {HOST}' http://127.0.0.1:{port}/v2/film/301",
    ]
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DCH_", "DATABASE_URL", "REDIS_URL", "PYTHON"))
        and name != "VIRTUAL_ENV"
    }
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    env["WEB_CONCURRENCY"] = "2"
    setup = subprocess.run(  # noqa: S603 (the page's own lines)
        ["bash", "-euo", "pipefail", "-c", "\n".join(blocks[:-2])],  # noqa: S607
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "Imported 76 items: 76 created, 0 updated, 0 unchanged." in setup.stdout
    assert "New application TV app created successfully." in setup.stdout
    assert "Superuser created successfully." in setup.stdout
    assert (checkout / "production.env").stat().st_mode & 0o777 == 0o600

    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serving = subprocess.Popen(
            ["bash", "-c", "set -a && . ./production.env && set +a && exec make serve"],  # noqa: S607
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while log.read_text(encoding="utf-8").count("Booting worker with pid") < 2:
            assert serving.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.5)
        film = subprocess.run(  # noqa: S603
            ["bash", "-c", blocks[-1]],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        with requests.Session() as client:
            client.headers["Host"] = HOST
            base = f"http://127.0.0.1:{port}"
            token = client.post(
                f"{base}/oauth2/token",
                auth=("tv-app", "tv-app-secret"),
                data={
                    "grant_type": "password",
                    "username": "admin",
                    "password": "choose-a-staff-password",
                    "scope": "read write",
                },
                timeout=60,
            )
            bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
            added = client.post(
                f"{base}/v2/user/favourites",
                data={"action": "add", "id": ["301", "23427-1"]},
                headers=bearer,
                timeout=60,
            )
            listed = client.get(f"{base}/v2/user/favourites", headers=bearer, timeout=60)
            login = client.get(f"{base}/admin/login/", timeout=60)
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
            assert csrf, login.text
            signed_in = client.post(
                f"{base}/admin/login/?next=/admin/",
                data={
                    "csrfmiddlewaretoken": csrf[1],
                    "username": "admin",
                    "password": "choose-a-staff-password",
                },
                timeout=60,
            )
    finally:
        os.killpg(serving.pid, signal.SIGTERM)
        serving.wait(timeout=60)

    assert '"id":"301"' in film.stdout
    assert '"type":"film"' in film.stdout
    assert (token.status_code, token.json()["token_type"]) == (200, "Bearer")
    assert token.json()["access_token"].count(".") == 2  # a JWT, signed with the page's key
    assert added.status_code == 200
    assert [entry["id"] for entry in listed.json()["_links"]["favourites"]] == ["23427-1", "301"]
    assert signed_in.status_code == 200
    assert signed_in.url == f"{base}/admin/"
    assert "Site administration" in signed_in.text
