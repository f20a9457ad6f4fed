"""``DCH_FAVOURITES`` read through ``app_settings``: defaults, the site's values, tests."""

from __future__ import annotations

from dataclasses import fields

import pytest
from django.conf import settings
from django.test import override_settings

from dch_favourites.conf import DEFAULTS, AppSettings, app_settings


def test_without_the_setting_every_default_applies() -> None:
    # Deleting a setting sends no setting_changed (override_settings(X=...) does): reload.
    try:
        with override_settings():
            del settings.DCH_FAVOURITES
            app_settings.reload()
            defaults = app_settings.as_dict()
            max_ids, languages = app_settings.MAX_IDS_PER_REQUEST, app_settings.LANGUAGES
    finally:
        app_settings.reload()

    assert defaults == DEFAULTS
    assert (max_ids, languages) == (50, ("en", "de"))


@override_settings(DCH_FAVOURITES={"MAX_IDS_PER_REQUEST": 10, "API_BASE_URL": "//api/v2"})
def test_the_sites_values_win_and_the_rest_default() -> None:
    assert app_settings.MAX_IDS_PER_REQUEST == 10
    assert app_settings.API_BASE_URL == "//api/v2"
    assert app_settings.MAX_FAVOURITES_PER_USER == 1000
    assert app_settings.as_dict() == {
        **DEFAULTS,
        "MAX_IDS_PER_REQUEST": 10,
        "API_BASE_URL": "//api/v2",
    }


def test_a_changed_setting_is_read_again() -> None:
    with override_settings(DCH_FAVOURITES={"MAX_BODY_SIZE": 100}):
        assert app_settings.MAX_BODY_SIZE == 100
        with override_settings(DCH_FAVOURITES={"MAX_BODY_SIZE": 200}):
            assert app_settings.MAX_BODY_SIZE == 200
        assert app_settings.MAX_BODY_SIZE == 100


@override_settings(DCH_FAVOURITES=["not", "a", "dict"])
def test_a_setting_that_is_not_a_dict_reads_as_the_defaults() -> None:
    # The system check dch_favourites.E001 reports it; meanwhile the app keeps working.
    assert app_settings.as_dict() == DEFAULTS


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"has no attribute 'MAX_IDS'"):
        app_settings.MAX_IDS  # type: ignore[attr-defined]  # noqa: B018


def test_every_default_has_a_typed_attribute() -> None:
    declared = {field.name for field in fields(AppSettings)}
    for name in DEFAULTS:
        assert name in declared
        value = getattr(app_settings, name)
        raw = app_settings.as_dict()[name]
        assert value == (tuple(raw) if isinstance(raw, (list, tuple)) else raw)
