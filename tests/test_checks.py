"""System checks: every ``DCH_FAVOURITES`` setting is validated, each error has a hint."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from dch_favourites.checks import check_settings
from dch_favourites.conf import DEFAULTS

MANAGE_PY = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"


def error(number: int, message: str, hint: str) -> Error:
    return Error(message, hint=hint, id=f"dch_favourites.E{number:03d}")


def run_checks(value: Any) -> list[Any]:
    with override_settings(DCH_FAVOURITES=value):
        return check_settings()


# (setting, bad value, the one error it must produce)
BAD_VALUES: list[tuple[str, Any, Error]] = [
    (
        "API_BASE_URL",
        "//api.example.com/v2/",
        error(
            3,
            "DCH_FAVOURITES['API_BASE_URL'] must be a URL like '//api.example.com/v2'.",
            "Protocol-relative or http(s), with no trailing slash; or None to derive it.",
        ),
    ),
    (
        "MAX_IDS_PER_REQUEST",
        0,
        error(
            6, "DCH_FAVOURITES['MAX_IDS_PER_REQUEST'] must be a positive integer.", "Default: 50."
        ),
    ),
    (
        "MAX_FAVOURITES_PER_USER",
        "1000",
        error(
            7,
            "DCH_FAVOURITES['MAX_FAVOURITES_PER_USER'] must be a positive integer.",
            "Default: 1000.",
        ),
    ),
    (
        "MAX_BODY_SIZE",
        True,
        error(8, "DCH_FAVOURITES['MAX_BODY_SIZE'] must be a positive integer.", "Default: 16384."),
    ),
    (
        "LANGUAGES",
        ("en", "en"),
        error(
            9,
            "DCH_FAVOURITES['LANGUAGES'] must be a non-empty list of distinct language codes.",
            "Lower-case codes such as ('en', 'de').",
        ),
    ),
    (
        "DEFAULT_LANGUAGE",
        "fr",
        error(
            10,
            "DCH_FAVOURITES['DEFAULT_LANGUAGE'] must be one of LANGUAGES.",
            "One of: en, de.",
        ),
    ),
    (
        "WRITE_THROTTLE_RATE",
        "120/fortnight",
        error(
            11,
            "DCH_FAVOURITES['WRITE_THROTTLE_RATE'] must be a DRF rate like '120/min', or None.",
            "Number of requests, '/', and s, min, hour or day.",
        ),
    ),
    (
        "THROTTLE_CACHE",
        "nowhere",
        error(
            14,
            "DCH_FAVOURITES['THROTTLE_CACHE'] must name one of the CACHES.",
            "Known aliases: default.",
        ),
    ),
    (
        "DOCUMENT_CACHE",
        "nowhere",
        error(
            15,
            "DCH_FAVOURITES['DOCUMENT_CACHE'] must name one of the CACHES, or be None.",
            "Known aliases: default.",
        ),
    ),
    (
        "DOCUMENT_CACHE_TIMEOUT",
        0,
        error(
            16,
            "DCH_FAVOURITES['DOCUMENT_CACHE_TIMEOUT'] must be a positive integer.",
            "Seconds; default: 86400.",
        ),
    ),
    (
        "ITEM_ENDPOINT_PUBLIC",
        "yes",
        error(
            12,
            "DCH_FAVOURITES['ITEM_ENDPOINT_PUBLIC'] must be True or False.",
            "Default: True.",
        ),
    ),
]


def test_defaults_pass() -> None:
    assert run_checks({}) == []


def test_every_setting_has_a_check_tested_here() -> None:
    assert sorted(setting for setting, _, _ in BAD_VALUES) == sorted(DEFAULTS)


@pytest.mark.parametrize(
    ("setting", "value", "expected"), BAD_VALUES, ids=[case[0] for case in BAD_VALUES]
)
def test_each_bad_setting_gives_its_error_and_hint(
    setting: str, value: Any, expected: Error
) -> None:
    [found] = run_checks({setting: value})

    assert found == expected
    assert (found.id, found.msg, found.hint) == (expected.id, expected.msg, expected.hint)
    assert found.is_serious()


def test_e001_setting_not_a_dict() -> None:
    assert run_checks([("MAX_BODY_SIZE", 0)]) == [
        error(1, "DCH_FAVOURITES must be a dict.", "Set DCH_FAVOURITES = {...}.")
    ]


def test_e002_unknown_keys_are_listed_sorted() -> None:
    assert run_checks({"MAX_IDS": 5, "API_BASE": "//x/v2"}) == [
        error(
            2,
            "DCH_FAVOURITES has unknown keys: API_BASE, MAX_IDS.",
            f"Known keys: {', '.join(sorted(DEFAULTS))}.",
        )
    ]


@pytest.mark.parametrize("key", ["READ_SCOPE", "WRITE_SCOPE"])
def test_e013_the_scope_keys_of_earlier_releases_name_their_replacement(key: str) -> None:
    assert run_checks({key: "read"}) == [
        error(
            13,
            f"DCH_FAVOURITES['{key}'] is no longer read.",
            f'The scope comes from django-oauth-toolkit: set OAUTH2_PROVIDER["{key}"] instead, '
            f"and remove {key} from DCH_FAVOURITES.",
        )
    ]


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("DOCUMENT_NEAR_CACHE", "Documents are kept in DOCUMENT_CACHE alone:"),
        ("DOCUMENT_CACHE_COMPRESSION", "Documents are kept as rendered:"),
        ("CACHE_RETRY_AFTER", "Give the cache a short socket_timeout in CACHES instead,"),
        (
            "PREPARED_STATEMENTS",
            'psycopg prepares statements itself with "server_side_binding": True, '
            '"prepare_threshold": 5 in DATABASES[...]["OPTIONS"];',
        ),
    ],
)
def test_e013_the_cache_and_statement_keys_of_earlier_releases_say_what_replaces_them(
    key: str, hint: str
) -> None:
    assert run_checks({key: None}) == [
        error(
            13,
            f"DCH_FAVOURITES['{key}'] is no longer read.",
            f"{hint} and remove {key} from DCH_FAVOURITES.",
        )
    ]


def test_w001_a_per_process_throttle_cache_outside_debug(settings: Any) -> None:
    from dch_favourites.checks import check_throttle_cache

    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.DCH_FAVOURITES = {"WRITE_THROTTLE_RATE": "20/min"}
    [warning] = check_throttle_cache()
    assert warning.id == "dch_favourites.W001"
    assert "per-process cache 'default'" in warning.msg
    assert "RedisCache" in warning.hint
    assert not warning.is_serious()

    settings.DEBUG = True
    assert check_throttle_cache() == []
    settings.DEBUG = False
    settings.DCH_FAVOURITES = {"WRITE_THROTTLE_RATE": None}
    assert check_throttle_cache() == []
    settings.DCH_FAVOURITES = {"WRITE_THROTTLE_RATE": "20/min"}
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/14",
        }
    }
    assert check_throttle_cache() == []


def test_every_bad_value_is_reported_at_once() -> None:
    found = run_checks({setting: value for setting, value, _ in BAD_VALUES})

    # DEFAULT_LANGUAGE is only judged against a valid LANGUAGES.
    assert [message.id for message in found] == [
        f"dch_favourites.E{number:03d}" for number in (3, 6, 7, 8, 9, 11, 14, 15, 16, 12)
    ]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("API_BASE_URL", "//api.example.com/v2"),
        ("API_BASE_URL", "https://api.example.com"),
        ("API_BASE_URL", "http://127.0.0.1:8000/v2"),
        ("API_BASE_URL", None),
        ("DOCUMENT_CACHE", None),
        ("THROTTLE_CACHE", "default"),
        ("MAX_IDS_PER_REQUEST", 1),
        ("LANGUAGES", ["de"]),
        ("LANGUAGES", ("en", "de", "pt-br")),
        ("WRITE_THROTTLE_RATE", "1/s"),
        ("WRITE_THROTTLE_RATE", "5000/day"),
        ("WRITE_THROTTLE_RATE", "120/minute"),
        ("WRITE_THROTTLE_RATE", "3/hour"),
        ("WRITE_THROTTLE_RATE", None),
        ("ITEM_ENDPOINT_PUBLIC", False),
    ],
)
def test_good_values_pass(setting: str, value: Any) -> None:
    extra = {"DEFAULT_LANGUAGE": "de"} if value == ["de"] else {}
    assert run_checks({setting: value, **extra}) == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("API_BASE_URL", "api.example.com/v2"),
        ("API_BASE_URL", "ftp://api.example.com/v2"),
        ("API_BASE_URL", "//"),
        ("API_BASE_URL", "//api.example.com/{v2}"),
        ("API_BASE_URL", 42),
        ("THROTTLE_CACHE", None),
        ("DOCUMENT_CACHE", 7),
        ("DOCUMENT_CACHE_TIMEOUT", -5),
        ("MAX_IDS_PER_REQUEST", -1),
        ("MAX_IDS_PER_REQUEST", 5.0),
        ("LANGUAGES", ()),
        ("LANGUAGES", "en"),
        ("LANGUAGES", ("EN", "de")),
        ("LANGUAGES", ("en", 7)),
        ("LANGUAGES", 5),
        ("WRITE_THROTTLE_RATE", "0/min"),
        ("WRITE_THROTTLE_RATE", "120"),
        ("WRITE_THROTTLE_RATE", 120),
        ("WRITE_THROTTLE_RATE", "-1/min"),
        ("WRITE_THROTTLE_RATE", "1/2/min"),
        ("WRITE_THROTTLE_RATE", "10/"),
        ("WRITE_THROTTLE_RATE", "ten/min"),
        ("ITEM_ENDPOINT_PUBLIC", 1),
    ],
)
def test_more_bad_values_are_caught(setting: str, value: Any) -> None:
    expected = next(error for name, _, error in BAD_VALUES if name == setting)
    assert run_checks({setting: value}) == [expected]


def test_checks_are_registered_with_djangos_check_framework() -> None:
    out = StringIO()
    call_command("check", "dch_favourites", stdout=out)
    assert out.getvalue() == "System check identified no issues (0 silenced).\n"

    with (
        override_settings(DCH_FAVOURITES={"MAX_IDS_PER_REQUEST": 0}),
        pytest.raises(SystemCheckError) as raised,
    ):
        call_command("check", "dch_favourites", stdout=StringIO())
    assert (
        "?: (dch_favourites.E006) DCH_FAVOURITES['MAX_IDS_PER_REQUEST'] must be a positive "
        in str(raised.value)
    )


def run_manage_py_check(tmp_path: Path, dch_favourites: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "check_settings.py").write_text(
        textwrap.dedent(
            f"""
            from demo_site.settings import *  # noqa: F403

            DCH_FAVOURITES = {dch_favourites}
            """
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "DJANGO_SETTINGS_MODULE": "check_settings"}
    return subprocess.run(  # noqa: S603 -- our own interpreter and manage.py
        [sys.executable, str(MANAGE_PY), "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_manage_py_check_fails_on_a_bad_setting(tmp_path: Path) -> None:
    result = run_manage_py_check(tmp_path, '{"MAX_IDS_PER_REQUEST": 0, "READ_SCOPE": "read"}')

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "SystemCheckError: System check identified some issues:\n"
        "\n"
        "ERRORS:\n"
        "?: (dch_favourites.E006) DCH_FAVOURITES['MAX_IDS_PER_REQUEST'] must be a positive "
        "integer.\n"
        "\tHINT: Default: 50.\n"
        "?: (dch_favourites.E013) DCH_FAVOURITES['READ_SCOPE'] is no longer read.\n"
        '\tHINT: The scope comes from django-oauth-toolkit: set OAUTH2_PROVIDER["READ_SCOPE"] '
        "instead, and remove READ_SCOPE from DCH_FAVOURITES.\n"
        "\n"
        "System check identified 2 issues (0 silenced).\n"
    )


def test_manage_py_check_passes_on_good_settings(tmp_path: Path) -> None:
    result = run_manage_py_check(tmp_path, '{"API_BASE_URL": "//api.example.com/v2"}')

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "System check identified no issues (0 silenced).\n"
