"""The wheel carries what a site needs and nothing else; tox tests the installed wheel."""

from __future__ import annotations

import configparser
import itertools
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from email.message import Message
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

import dch_favourites

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "dch_favourites"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
UNDER_TOX = os.environ.get("DCH_EXPECT_INSTALLED") == "1"


@pytest.mark.skipif(
    not UNDER_TOX,
    reason="tox sets DCH_EXPECT_INSTALLED=1 where it installed the wheel; "
    "`make test` runs against the checkout",
)
def test_imported_package_is_the_installed_wheel_not_the_checkout() -> None:
    imported = Path(dch_favourites.__file__).resolve().parent
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()

    assert imported == site_packages / "dch_favourites"
    assert imported != PACKAGE_DIR
    assert [entry for entry in sys.path if Path(entry or ".").resolve() == ROOT] == []

    dist = metadata.distribution("dch-favourites")
    direct_url = dist.read_text("direct_url.json") or ""
    assert '"editable": true' not in direct_url
    installed = {str(path) for path in dist.files or ()}
    assert "dch_favourites/py.typed" in installed
    assert "dch_favourites/migrations/0001_initial.py" in installed
    assert "dch_favourites/catalogue.schema.json" in installed
    assert [name for name in installed if name.startswith(("tests/", "example_project/"))] == []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """A wheel built from the checkout, the way a release builds it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(  # noqa: S603 -- our own interpreter building our own project
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("dch_favourites-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def wheel_metadata(wheel: zipfile.ZipFile) -> Message:
    version = PYPROJECT["project"]["version"]
    text = wheel.read(f"dch_favourites-{version}.dist-info/METADATA").decode("utf-8")
    return Parser().parsestr(text)


def package_files() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_wheel_carries_every_file_of_the_package(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())

    assert sorted(package_files() - names) == []
    assert {
        "dch_favourites/__init__.py",
        "dch_favourites/py.typed",
        "dch_favourites/migrations/__init__.py",
        "dch_favourites/migrations/0001_initial.py",
        "dch_favourites/management/commands/import_catalogue.py",
        "dch_favourites/catalogue.schema.json",
    } <= names


def test_wheel_ships_compiled_translations(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    catalogues = sorted(name for name in names if name.endswith(".po"))

    # Django reads only the compiled .mo files.
    assert [po for po in catalogues if po[:-3] + ".mo" not in names] == []
    assert all(name.startswith("dch_favourites/locale/") for name in catalogues)


def test_wheel_leaves_out_tests_and_the_example_site(wheel: zipfile.ZipFile) -> None:
    version = PYPROJECT["project"]["version"]
    outside = [
        name
        for name in wheel.namelist()
        if not name.startswith(("dch_favourites/", f"dch_favourites-{version}.dist-info/"))
    ]

    assert outside == []
    assert [name for name in wheel.namelist() if name.endswith((".pyc", ".sqlite3"))] == []


def requirements(lines: list[str]) -> set[tuple[str, SpecifierSet]]:
    return {
        (canonicalize_name(requirement.name), requirement.specifier)
        for requirement in map(Requirement, lines)
    }


def test_wheel_metadata(wheel: zipfile.ZipFile) -> None:
    meta = wheel_metadata(wheel)

    assert meta["Name"] == "dch-favourites"
    assert meta["Version"] == dch_favourites.__version__
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert f"dch_favourites-{meta['Version']}.dist-info/licenses/LICENSE" in wheel.namelist()
    assert meta["Requires-Python"] == ">=3.11"
    assert "Typing :: Typed" in meta.get_all("Classifier", [])
    # Dev and test tools live in dependency groups, never in published extras.
    assert "optional-dependencies" not in PYPROJECT["project"]
    assert meta.get_all("Provides-Extra") is None
    required = [Requirement(line) for line in meta.get_all("Requires-Dist", [])]
    assert requirements([str(r) for r in required]) == requirements(
        PYPROJECT["project"]["dependencies"]
    )


def expand(pattern: str) -> list[str]:
    """Expand tox's generative names: ``py{312,313}-django{52,60}`` -> four names."""
    parts = re.split(r"\{([^}]*)\}", pattern)
    choices = [[part] if i % 2 == 0 else part.split(",") for i, part in enumerate(parts)]
    return ["".join(combination) for combination in itertools.product(*choices)]


def tox_ini() -> configparser.ConfigParser:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    return tox


def tox_envs() -> list[str]:
    lines = tox_ini()["tox"]["env_list"].split()
    return [name for line in lines for name in expand(line)]


def test_classifiers_name_exactly_the_versions_tox_tests(wheel: zipfile.ZipFile) -> None:
    envs = tox_envs()
    pythons = {m[1] + "." + m[2] for env in envs if (m := re.match(r"py(3)(\d+)-", env))}
    djangos = {m[1] + "." + m[2] for env in envs if (m := re.search(r"-django(\d)(\d)", env))}
    classifiers = wheel_metadata(wheel).get_all("Classifier", [])

    assert pythons == {"3.11", "3.12", "3.13"}
    python_classifiers = {c for c in classifiers if re.fullmatch(r".*Python :: 3\.\d+", c)}
    django_classifiers = {c for c in classifiers if c.startswith("Framework :: Django :: ")}

    assert {c.rsplit(" ", 1)[1] for c in python_classifiers} == pythons
    assert {c.rsplit(" ", 1)[1] for c in django_classifiers} == djangos
    assert "Framework :: Django" in classifiers


def test_dependency_floors_are_the_versions_the_oldest_tox_env_pins() -> None:
    pins = {
        name: version
        for line in tox_ini()["testenv"]["deps"].splitlines()
        if line.startswith("mindeps:")
        for name, version in [line.removeprefix("mindeps:").strip().split("==")]
    }
    floors = {
        match[1]: match[2]
        for requirement in PYPROJECT["project"]["dependencies"]
        if (match := re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)(,.*)?", requirement))
    }

    assert len(floors) == len(PYPROJECT["project"]["dependencies"])
    assert pins == floors
