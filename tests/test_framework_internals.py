"""The package uses only the public API of Django, DRF, django-oauth-toolkit, oauthlib and
drf-spectacular: no private module, name or attribute (``Model._meta`` is public).

ruff's SLF001 catches private attribute access in lint; this test reads the package's
syntax trees so that the rule holds even where lint is not run, and covers imports too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dch_favourites

PACKAGE = Path(dch_favourites.__file__).resolve().parent
DEPENDENCIES = ("django", "rest_framework", "oauth2_provider", "oauthlib", "drf_spectacular")
PUBLIC_PRIVATES = {"_meta"}
#: Modules without an underscore that their projects still call internal.
INTERNAL_MODULES = {"django.utils.translation.trans_real"}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] in DEPENDENCIES:
                if any(private(part) for part in parts) or node.module in INTERNAL_MODULES:
                    found.append(f"{where} imports the private module {node.module}")
                found += [
                    f"{where} imports the private module {node.module}.{alias.name}"
                    for alias in node.names
                    if f"{node.module}.{alias.name}" in INTERNAL_MODULES
                ]
                found += [
                    f"{where} imports the private name {alias.name} from {node.module}"
                    for alias in node.names
                    if private(alias.name)
                ]
        elif isinstance(node, ast.Import):
            found += [
                f"{where} imports the private module {alias.name}"
                for alias in node.names
                if alias.name.split(".")[0] in DEPENDENCIES
                and any(private(part) for part in alias.name.split("."))
            ]
        elif isinstance(node, ast.Attribute) and private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in {"self", "cls"}:
                continue  # the object's own state
            if node.attr not in PUBLIC_PRIVATES:
                found.append(f"{where} reads the private attribute .{node.attr}")
    return found


def test_no_private_names_of_the_frameworks() -> None:
    modules = [path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts]
    assert len(modules) > 20
    assert [finding for path in modules for finding in findings(path)] == []


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from rest_framework.utils.mediatypes import _MediaType\n"
        "from django.utils.translation import trans_real\n"
        "import django.db.models._private\n"
        "def f(request, user):\n"
        "    return request._request, user._meta, user._state.db\n",
        encoding="utf-8",
    )
    assert [finding.split(" ", 1)[1] for finding in findings(sample)] == [
        "imports the private name _MediaType from rest_framework.utils.mediatypes",
        "imports the private module django.utils.translation.trans_real",
        "imports the private module django.db.models._private",
        "reads the private attribute ._request",
        "reads the private attribute ._state",
    ]
