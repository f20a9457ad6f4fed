"""The installation page and the README, executed.

``test_install_into_an_existing_site`` builds the wheel from a copy of the checkout, makes
a fresh virtualenv and a ``django-admin startproject`` site (``DEBUG = True``) in a
temporary directory, and applies the blocks of ``docs/installation.md`` as they stand:
shell blocks are run (in the checkout or in the site, as their first comment says), Python
blocks are appended to the file their first comment names. Then it GETs and POSTs
favourites over HTTP with the page's own curl commands. ``test_make_demo`` runs ``make
demo`` in a fresh copy and the commands the README says it prints. The only substitutions:
the port (``127.0.0.1:8000`` becomes a free one), ``<token>`` (the token the token command
answered) and ``path/to/dch-favourites`` (the checkout).

``test_every_command_the_docs_tell_to_run_is_run_by_a_test`` maps every other command of
the README and the documentation pages to the test or CI step that runs it, so a new
command without a test fails. The README's short install steps must be the installation
page's own lines.

Marked ``readme``: slow (two virtualenvs; pip's cache makes the second and later runs
fast). ``make test`` runs it; CI runs it once, on SQLite (``-m 'not readme'`` elsewhere).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASH = shutil.which("bash") or "/bin/bash"
README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALLATION = (ROOT / "docs" / "installation.md").read_text(encoding="utf-8")
INSTALL = "Install into an existing site"
# The pages whose commands a reader is told to run; the benchmark's (performance.md) are
# run by hand, and deploying.md's steps by tests/test_deploy.py.
PAGES = {
    path.name: path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "docs").glob("*.md"))
    if path.name != "performance.md"
}
COMMAND = re.compile(
    r"^(python|pip|make|curl|cp|django-admin|dropdb|\.venv/|scripts/|[A-Z_]+=\S+ (make|python))\b"
)


def section(title: str, text: str = README) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section {title!r}"
    return match.group(1)


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, indentation of a list item removed."""
    found = re.finditer(r"^( *)```(\w*)\n(.*?)^\1```", text, re.M | re.S)
    return [(m.group(2), textwrap.dedent(m.group(3))) for m in found]


def commands(code: str) -> list[str]:
    """The command lines of a shell block: no comments, no output of a transcript."""
    lines = []
    for line in code.splitlines():
        line = line.strip()
        if not quoted(line):
            line = re.sub(r"\s+#.*$", "", line)
        if COMMAND.match(line):
            lines.append(line)
    return lines


def quoted(line: str) -> bool:
    return "'" in line or '"' in line


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(url: str, process: subprocess.Popen[str], seconds: float = 90) -> float:
    """Seconds until ``url`` answers at all (any status)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        assert process.poll() is None, "the server exited"
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 -- our own loopback server
        except urllib.error.HTTPError:
            return time.monotonic() - start
        except OSError:
            time.sleep(0.2)
            continue
        return time.monotonic() - start
    raise AssertionError(f"{url} did not answer within {seconds} s")


def http(url: str) -> tuple[int, str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status, response.headers["Content-Type"], json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], json.load(error)


class Shell:
    """Runs README lines with a virtualenv's bin first on PATH, as an activated one would."""

    def __init__(self, venv: Path, port: int) -> None:
        self.port = port
        self.token = "<token>"
        self.checkout = "path/to/dch-favourites"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_URL", "PYTHON", "VIRTUAL_ENV"))
        }
        self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
        self.env["VIRTUAL_ENV"] = str(venv)
        self.servers: list[subprocess.Popen[str]] = []

    def line(self, command: str) -> str:
        return (
            command.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}")
            .replace("<token>", self.token)
            .replace("path/to/dch-favourites", self.checkout)
        )

    def run(self, command: str, cwd: Path, timeout: float = 300) -> str:
        done = subprocess.run(  # noqa: S603 -- README lines, run as a user would
            [BASH, "-c", self.line(command)],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def serve(self, command: str, cwd: Path) -> subprocess.Popen[str]:
        server = subprocess.Popen(  # noqa: S603
            [BASH, "-c", f"exec {self.line(command)}"],
            cwd=cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()
            if server.stdout is not None:
                server.stdout.close()


@pytest.fixture
def shell_for(tmp_path: Path) -> Iterator[Any]:
    shells: list[Shell] = []

    def make(venv: Path) -> Shell:
        shells.append(Shell(venv, free_port()))
        return shells[-1]

    yield make
    for shell in shells:
        shell.stop()


def copy_checkout(target: Path, *extra: str) -> Path:
    """The files a build (and ``make``) reads, without the checkout's .venv or databases."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", "staticfiles")
    target.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "dch_favourites", *extra):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    return target


pytestmark_readme = pytest.mark.readme


@pytestmark_readme
def test_install_into_an_existing_site(tmp_path: Path, shell_for: Any) -> None:
    checkout = copy_checkout(tmp_path / "checkout", "example_project")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)  # noqa: S603
    shell = shell_for(venv)
    shell.checkout = str(checkout)
    site = tmp_path / "site"
    site.mkdir()
    outputs: dict[str, str] = {}
    started = False
    for lang, code in blocks(INSTALLATION):
        first = code.splitlines()[0]
        if lang == "python":
            target = re.fullmatch(r"# (settings|urls)\.py: add at the end( \(.*\))?", first)
            assert target, f"a Python block of the install section names no file: {first!r}"
            with (site / "mysite" / f"{target[1]}.py").open("a", encoding="utf-8") as module:
                module.write("\n" + code)
            continue
        assert lang == "sh"
        cwd = checkout if "checkout" in first else site
        for command in commands(code):
            if " runserver " in command:
                server = shell.serve(command, site)
                wait_for(f"http://127.0.0.1:{shell.port}/v2/", server)
                continue
            outputs[command] = out = shell.run(command, cwd)
            if "grant_type=password" in command:
                shell.token = json.loads(out)["access_token"]
        if not started:
            # After the install block: the site, as `django-admin startproject` makes it.
            shell.run("django-admin startproject mysite .", site)
            assert "DEBUG = True" in (site / "mysite" / "settings.py").read_text()
            started = True

    imported = "Imported 76 items: 76 created, 0 updated, 0 unchanged."
    assert outputs["python manage.py import_catalogue catalogue.json"] == imported + "\n"
    assert imported in " ".join(INSTALLATION.split())
    [created] = [out for command, out in outputs.items() if "createapplication" in command]
    assert "New application TV app created successfully." in created
    [staff] = [out for command, out in outputs.items() if "createsuperuser" in command]
    assert staff == "Superuser created successfully.\n"
    [token_answer] = [
        json.loads(out) for command, out in outputs.items() if "grant_type" in command
    ]
    assert (token_answer["token_type"], token_answer["scope"]) == ("Bearer", "read write")
    lists = [
        json.loads(out) for command, out in outputs.items() if "/v2/user/favourites" in command
    ]
    assert lists[0] == {"updated": 0, "_links": {"favourites": []}}
    assert [entry["id"] for entry in lists[1]["_links"]["favourites"]] == ["23427-1", "301"]
    assert (
        lists[1]["_links"]["favourites"][0]["href"] == f"//127.0.0.1:{shell.port}/v2/work/23427-1"
    )

    # DEBUG is on and the site sets no handler: below v2/ the answers are still JSON.
    base = f"http://127.0.0.1:{shell.port}"
    for path in ("/v2/user/favourites/", "/v2/nothing", "/v2/"):
        assert http(base + path) == (
            404,
            "application/hal+json; charset=utf-8",
            {"error": {"message": "Not found."}},
        )
    status, _type, film = http(base + "/v2/film/301")
    assert (status, film["title"]) == (200, "“Guardians of Unity”: Conductors in conversation")


DEMO_PRINTS = [
    command
    for lang, code in blocks(section("Quick start"))
    if lang == "sh"
    for command in commands(code)
    if command.startswith("curl -s -H 'Authorization: Bearer <token>'")
]
DEMO_TOKEN = next(
    command
    for lang, code in blocks(section("Quick start"))
    for command in commands(code)
    if "grant_type=password" in command
)


@pytestmark_readme
def test_make_demo(tmp_path: Path, shell_for: Any) -> None:
    checkout = copy_checkout(tmp_path / "checkout", "Makefile", "example_project")
    shell = shell_for(checkout / ".venv")
    started = time.monotonic()
    demo = shell.serve(f"make demo PORT={shell.port}", checkout)
    wait_for(f"http://127.0.0.1:{shell.port}/v2/", demo, seconds=240)
    served_after = time.monotonic() - started
    assert demo.stdout is not None
    printed = []
    while len(printed) < len(DEMO_PRINTS):
        line = demo.stdout.readline()
        assert line, "make demo stopped printing"
        if line.strip().startswith("curl "):
            printed.append(line.strip())
    token = re.search(r"Bearer ([^']+)'", printed[0])
    assert token
    shell.token = token[1]

    # What it prints is what the README shows, with a real token.
    assert [shell.line(command) for command in DEMO_PRINTS] == printed
    answers = [json.loads(shell.run(command, checkout)) for command in DEMO_PRINTS]
    assert [[e["id"] for e in a["_links"]["favourites"]] for a in answers] == [
        ["23427-1", "23427-3", "301"],
        ["311", "24001", "23427-1", "23427-3", "301"],
        ["311", "24001", "23427-3", "301"],
    ]
    granted = json.loads(shell.run(DEMO_TOKEN, checkout))
    assert (granted["token_type"], granted["scope"]) == ("Bearer", "read write")
    # Only what the demo runs: no test, lint or developer tools.
    installed = shell.run("python -m pip list --format json", checkout)
    names = {package["name"].lower() for package in json.loads(installed)}
    assert {"django", "dch-favourites", "drf-spectacular"} <= names
    assert names & {"pytest", "tox", "mypy", "ruff", "selenium", "pre-commit"} == set()
    print(f"make demo answered after {served_after:.1f} s")


# Commands the README and the pages tell a reader to run, outside what the tests above run.
DEPLOY_TEST = (
    "tests/test_deploy.py::test_the_deploying_steps_make_a_server_that_signs_in_and_serves"
)
ELSEWHERE = {
    "make test": ".ci/run",
    "make docs": ".ci/run",
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/dch_favourites make test": ".ci/run",
    "make production": DEPLOY_TEST,
    "make serve": DEPLOY_TEST,
    ".venv/bin/python example_project/manage.py migrate": DEPLOY_TEST,
    ".venv/bin/python example_project/manage.py import_catalogue "
    "example_project/demo_site/demo_catalogue.json": DEPLOY_TEST,
    '.venv/bin/python example_project/manage.py createapplication --name "TV app" '
    "--client-id tv-app --client-secret tv-app-secret confidential password": DEPLOY_TEST,
    "curl -s -H 'Host: api.example.com' http://127.0.0.1:8000/v2/film/301": DEPLOY_TEST,
    'python manage.py shell -c "from django.core.cache import cache; cache.clear()"': (
        "tests/test_production_profile.py::"
        "test_the_documented_command_after_a_restore_empties_the_shared_cache"
    ),
    "python manage.py delete_catalogue_items 301 23427-1": (
        "tests/test_phased_delete.py::test_the_command_asks_first"
    ),
    "python manage.py export_favourites --username listener": (
        "tests/test_commands.py::test_export_to_standard_output"
    ),
    "python manage.py export_favourites --user-id 42 --output listener.json": (
        "tests/test_commands.py::test_export_to_a_file"
    ),
    "python manage.py remove_favourites --username listener": (
        "tests/test_commands.py::test_remove_asks_first_and_yes_removes"
    ),
    "python manage.py remove_favourites --user-id 42 --yes": (
        "tests/test_commands.py::test_remove_without_asking"
    ),
    # The same command for two apps; the test runs it with the first app's arguments.
    'python manage.py createapplication confidential password --name "DCH Android" '
    '--client-id dch.android --client-secret "$ANDROID_SECRET"': (
        "tests/test_signin_settings.py::"
        "test_the_readme_createapplication_line_makes_an_app_that_signs_in"
    ),
    'python manage.py createapplication confidential password --name "DCH web app" '
    '--client-id dch.webapp --client-secret "$WEBAPP_SECRET"': (
        "tests/test_signin_settings.py::"
        "test_the_readme_createapplication_line_makes_an_app_that_signs_in"
    ),
}


# Named in the prose, not lines to run: the tool, and what the install test does itself.
MENTIONS = {"make", "django-admin startproject"}


def shell_commands(text: str) -> set[str]:
    return {c for lang, code in blocks(text) if lang == "sh" for c in commands(code)}


def run_here() -> set[str]:
    return {"make demo", "make demo PORT=8001", *DEMO_PRINTS, DEMO_TOKEN} | shell_commands(
        INSTALLATION
    )


def documented_commands() -> set[str]:
    """Every command line of a shell block of the README and the pages, and every command in
    backticks in the README's quick start."""
    found = shell_commands(README)
    for text in PAGES.values():
        found |= shell_commands(text)
    prose = re.sub(r"```.*?```", "", section("Quick start"), flags=re.S)
    for span in re.findall(r"`([^`]+)`", prose):
        span = " ".join(span.split())
        if COMMAND.match(span) and span not in MENTIONS:
            found.add(span)
    return found


def test_every_command_the_docs_tell_to_run_is_run_by_a_test() -> None:
    unmapped = sorted(documented_commands() - run_here() - set(ELSEWHERE))

    assert unmapped == []
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command, where in ELSEWHERE.items():
        if where == ".ci/run":
            target = re.search(r"make \w+", command)
            assert target, command
            assert target[0] in ci, command
            if "DATABASE_URL" in command:
                assert 'DATABASE_URL="$PG_URL" make test' in ci
                assert command.split()[0].removeprefix("DATABASE_URL=") in ci
        else:
            path, name = where.split("::")
            assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8"), where


def test_the_readmes_install_steps_are_the_installation_pages() -> None:
    """The README's short version may leave lines out, never say them differently."""
    page_lines = {line.strip() for line in INSTALLATION.splitlines()}
    checked = 0
    for _lang, code in blocks(section(INSTALL)):
        for line in code.splitlines():
            if line.strip() and not line.startswith("#"):
                checked += 1
                assert line.strip() in page_lines, line
    assert checked >= 10


def test_no_page_names_the_trackers_issues() -> None:
    for name, text in {"README.md": README, **PAGES}.items():
        assert re.findall(r"\b[Ii]ssues? \d+", text) == [], name
    assert len(README.splitlines()) <= 250


def test_the_readmes_links_lead_to_files_of_the_repository() -> None:
    targets = re.findall(r"\]\(((?!https?:|#)[^)#]+)(?:#[^)]*)?\)", README)
    assert "docs/installation.md" in targets
    for target in targets:
        assert (ROOT / target).exists(), target


# What the files that `django-admin startproject` writes define before the blocks run.
STARTPROJECT_NAMES = {"settings.py": {"INSTALLED_APPS", "DATABASES"}, "urls.py": {"urlpatterns"}}


def test_the_installation_snippets_import_what_they_use() -> None:
    checked = 0
    for lang, code in blocks(INSTALLATION):
        if lang != "python":
            continue
        tree = ast.parse(code)
        defined = {
            alias.asname or alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        defined |= {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.ctx == ast.Store()
        }
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.ctx == ast.Load()}
        module = code.splitlines()[0].split(":")[0].removeprefix("# ")
        checked += 1

        assert used - defined - STARTPROJECT_NAMES[module] == set(), code
    assert checked == 4


@pytest.mark.postgresql
def test_dropdb_removes_a_test_database() -> None:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    scratch = f"test_dch_readme_{os.getpid()}"
    server = (
        f"host={config['HOST']} port={config['PORT'] or 5432} user={config['USER']} "
        f"dbname=postgres password={config['PASSWORD'] or ''}"
    )
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{scratch}"')
    env = {
        **os.environ,
        "PGHOST": str(config["HOST"]),
        "PGPORT": str(config["PORT"] or 5432),
        "PGUSER": str(config["USER"]),
        "PGPASSWORD": str(config["PASSWORD"] or ""),
    }
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    [command] = [c for c in shell_commands(contributing) if c.startswith("dropdb ")]

    subprocess.run(  # noqa: S603
        shlex.split(command.replace("test_dch_favourites", scratch)), env=env, check=True
    )

    with psycopg.connect(server, autocommit=True) as connection:
        left = connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [scratch]
        ).fetchone()
    assert left == (0,)
