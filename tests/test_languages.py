"""Languages: Accept-Language picks the titles, with a per-field fallback to the default."""

from __future__ import annotations

import json
from typing import Any

import pytest
from database_state import document_clock, moved
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils.translation import override

from dch_favourites.api.negotiation import negotiate_language
from dch_favourites.catalogue_import import import_catalogue
from dch_favourites.models import CatalogueItem, CatalogueItemTranslation
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, ConcertFactory, TranslationFactory, WorkFactory, ts

pytestmark = pytest.mark.django_db

NO_THROTTLE = {"WRITE_THROTTLE_RATE": None}


@pytest.fixture
def catalogue() -> dict[str, CatalogueItem]:
    """A work translated in full, a work with a German title only, an untranslated film."""
    concert = ConcertFactory(id="23427", title="Rattle conducts Boulez")
    full = WorkFactory(id="23427-1", title="Éclat", short_title="Éclat (1965)")
    TranslationFactory(item=full, language="de", title="Éclat (DE)", short_title="Éclat (1965, DE)")
    partial = WorkFactory(id="23427-2", title="Symphony No. 5", short_title="Fifth")
    TranslationFactory(item=partial, language="de", title="Sinfonie Nr. 5", short_title=None)
    film = CatalogueItemFactory(id="301", title="Guardians of Unity")
    return {"concert": concert, "full": full, "partial": partial, "film": film}


def titles(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [
        (entry["id"], entry["title"], entry.get("short_title", "(no key)"))
        for entry in body["_links"]["favourites"]
    ]


def test_default_language_without_accept_language(api: Any, catalogue: Any) -> None:
    add_favourites(api.user, ["301", "23427-2", "23427-1"])

    response = api.get()

    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    assert "Accept-Language" in [v.strip() for v in response["Vary"].split(",")]
    assert titles(json.loads(response.content)) == [
        ("23427-1", "Éclat", "Éclat (1965)"),
        ("23427-2", "Symphony No. 5", "Fifth"),
        ("301", "Guardians of Unity", "(no key)"),
    ]


def test_german_titles_fall_back_to_english_field_by_field(api: Any, catalogue: Any) -> None:
    add_favourites(api.user, ["301", "23427-2", "23427-1"])

    response = api.get(HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")

    assert response.status_code == 200
    assert response["Content-Language"] == "de"
    assert "Accept-Language" in [v.strip() for v in response["Vary"].split(",")]
    assert titles(json.loads(response.content)) == [
        ("23427-1", "Éclat (DE)", "Éclat (1965, DE)"),
        # No German short title: the English one stands in, the German title is kept.
        ("23427-2", "Sinfonie Nr. 5", "Fifth"),
        # No translation at all: English.
        ("301", "Guardians of Unity", "(no key)"),
    ]


def test_a_translation_does_not_change_anything_but_the_titles(api: Any, catalogue: Any) -> None:
    add_favourites(api.user, ["23427-1"])

    english = json.loads(api.get(HTTP_ACCEPT_LANGUAGE="en").content)
    german = json.loads(api.get(HTTP_ACCEPT_LANGUAGE="de").content)

    assert german["updated"] == english["updated"]
    [en_entry], [de_entry] = english["_links"]["favourites"], german["_links"]["favourites"]
    assert {k: v for k, v in de_entry.items() if k not in {"title", "short_title"}} == {
        k: v for k, v in en_entry.items() if k not in {"title", "short_title"}
    }
    assert list(de_entry) == list(en_entry)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("", "en"),
        ("de", "de"),
        ("DE", "de"),
        ("de-AT", "de"),
        ("en-GB,de;q=0.8", "en"),
        ("fr", "en"),
        ("fr, de;q=0.5", "de"),
        ("de;q=0", "en"),
        ("de;q=0, en;q=0.1", "en"),
        ("*", "en"),
        ("fr, *;q=0.5", "en"),
        ("de;q=0.4, en;q=0.6", "en"),
        ("de;q=0.6, en;q=0.4", "de"),
        ("not a language ;;; q=x", "en"),
        ("de" * 300, "en"),
    ],
)
def test_accept_language_negotiation(api: Any, catalogue: Any, header: str, language: str) -> None:
    add_favourites(api.user, ["23427-1"])

    response = api.get(HTTP_ACCEPT_LANGUAGE=header)

    assert response.status_code == 200
    assert response["Content-Language"] == language
    [entry] = json.loads(response.content)["_links"]["favourites"]
    assert entry["title"] == {"en": "Éclat", "de": "Éclat (DE)"}[language]


def test_the_etag_differs_per_language_and_a_304_needs_the_same_language(
    api: Any, catalogue: Any
) -> None:
    add_favourites(api.user, ["23427-1"])
    english = api.get(HTTP_ACCEPT_LANGUAGE="en")
    german = api.get(HTTP_ACCEPT_LANGUAGE="de")
    assert english["ETag"] != german["ETag"]

    # A cached English copy does not answer a German request...
    crossed = api.get(HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_NONE_MATCH=english["ETag"])
    assert crossed.status_code == 200
    assert crossed.content == german.content
    # ...but it does answer the same language.
    same = api.get(HTTP_ACCEPT_LANGUAGE="de-CH", HTTP_IF_NONE_MATCH=german["ETag"])
    assert same.status_code == 304
    assert same.content == b""
    assert same["ETag"] == german["ETag"]


def test_the_post_answers_in_the_negotiated_language(api: Any, catalogue: Any) -> None:
    response = api.post("action=add&id=23427-1", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 200
    assert response["Content-Language"] == "de"
    assert titles(json.loads(response.content)) == [("23427-1", "Éclat (DE)", "Éclat (1965, DE)")]


@pytest.mark.parametrize("header", ["", "en", "de"])
def test_the_list_is_one_query_in_every_language(
    api: Any, catalogue: Any, header: str, django_assert_num_queries: Any
) -> None:
    more = [CatalogueItemFactory() for _ in range(20)]
    for item in more[::2]:
        TranslationFactory(item=item, language="de")
    add_favourites(api.user, ["301", "23427-1", "23427-2", *(item.id for item in more)])

    # The token (the states are cached by the change); state and list in one statement.
    with django_assert_num_queries(2):
        response = api.get(HTTP_ACCEPT_LANGUAGE=header)

    assert response.status_code == 200
    assert len(json.loads(response.content)["_links"]["favourites"]) == 23


def test_a_translation_of_another_language_is_not_picked_up(api: Any, catalogue: Any) -> None:
    CatalogueItemTranslation.objects.create(item=catalogue["film"], language="fr", title="Gardiens")
    add_favourites(api.user, ["301"])

    response = api.get(HTTP_ACCEPT_LANGUAGE="de")

    assert response["Content-Language"] == "de"
    assert titles(json.loads(response.content)) == [("301", "Guardians of Unity", "(no key)")]


@override_settings(DCH_FAVOURITES={**NO_THROTTLE, "LANGUAGES": ("en", "de", "fr")})
def test_the_list_of_languages_is_a_setting(api: Any, catalogue: Any) -> None:
    CatalogueItemTranslation.objects.create(item=catalogue["film"], language="fr", title="Gardiens")
    add_favourites(api.user, ["301"])

    response = api.get(HTTP_ACCEPT_LANGUAGE="fr-CA")

    assert response["Content-Language"] == "fr"
    assert titles(json.loads(response.content)) == [("301", "Gardiens", "(no key)")]


@override_settings(
    DCH_FAVOURITES={**NO_THROTTLE, "LANGUAGES": ("de", "en"), "DEFAULT_LANGUAGE": "de"}
)
def test_a_german_default_language(api: Any) -> None:
    item = WorkFactory(id="23427-1", title="Sinfonie", short_title=None)
    TranslationFactory(item=item, language="en", title="Symphony", short_title="Sym.")
    add_favourites(api.user, ["23427-1"])

    plain = api.get()
    english = api.get(HTTP_ACCEPT_LANGUAGE="en")
    other = api.get(HTTP_ACCEPT_LANGUAGE="it")

    assert plain["Content-Language"] == "de"
    assert titles(json.loads(plain.content)) == [("23427-1", "Sinfonie", None)]
    assert english["Content-Language"] == "en"
    assert titles(json.loads(english.content)) == [("23427-1", "Symphony", "Sym.")]
    assert other["Content-Language"] == "de"


def test_editing_a_translation_moves_the_list_forward(api: Any, catalogue: Any) -> None:
    add_favourites(api.user, ["23427-1"])
    before = api.get(HTTP_ACCEPT_LANGUAGE="de")
    clock = document_clock(api.user)

    translation = CatalogueItemTranslation.objects.get(item_id="23427-1", language="de")
    translation.title = "Éclat (neu)"
    translation.save()
    after = api.get(HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert titles(json.loads(after.content)) == [("23427-1", "Éclat (neu)", "Éclat (1965, DE)")]
    assert moved(clock, document_clock(api.user))
    entry = json.loads(after.content)["_links"]["favourites"][0]
    assert entry["updated"] > int(ts(1463558400).timestamp())


def test_deleting_a_translation_falls_back_to_english(api: Any, catalogue: Any) -> None:
    add_favourites(api.user, ["23427-1"])
    before = api.get(HTTP_ACCEPT_LANGUAGE="de")

    CatalogueItemTranslation.objects.filter(item_id="23427-1").delete()
    after = api.get(HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert titles(json.loads(after.content)) == [("23427-1", "Éclat", "Éclat (1965)")]
    assert not CatalogueItemTranslation.objects.filter(item_id="23427-1").exists()


def test_imported_translations_are_served(api: Any) -> None:
    import_catalogue(
        [
            {
                "id": "301",
                "type": "film",
                "title": "Guardians of Unity",
                "is_free": False,
                "date": {"published": 1463558400},
                "translations": {"de": {"title": "Hüter der Einheit"}},
            }
        ]
    )
    add_favourites(api.user, ["301"])

    response = api.get(HTTP_ACCEPT_LANGUAGE="de")

    assert titles(json.loads(response.content)) == [("301", "Hüter der Einheit", "(no key)")]
    assert "Hüter der Einheit".encode() in response.content


@pytest.mark.parametrize("language", ["en", "fr", "", "DE"])
def test_a_translation_must_be_in_another_configured_language(
    catalogue: Any, language: str
) -> None:
    translation = CatalogueItemTranslation(item=catalogue["film"], language=language, title="X")

    with override("en"):
        with pytest.raises(ValidationError) as raised:
            translation.full_clean()
        messages = raised.value.message_dict

    assert messages["language"][-1] == "Use one of de; the item itself holds the en text."


def test_a_german_translation_is_valid(catalogue: Any) -> None:
    CatalogueItemTranslation(item=catalogue["film"], language="de", title="Hüter").full_clean()


def test_one_translation_per_item_and_language(catalogue: Any) -> None:
    duplicate = CatalogueItemTranslation(item=catalogue["full"], language="de", title="Noch einmal")

    with override("en"):
        with pytest.raises(ValidationError) as raised:
            duplicate.full_clean()
        messages = raised.value.messages

    assert messages == ["Translation with this Catalogue item and Language already exists."]


def test_negotiate_language_reads_the_settings_each_time(rf: Any) -> None:
    request = rf.get("/", HTTP_ACCEPT_LANGUAGE="fr")
    assert negotiate_language(request) == "en"
    with override_settings(DCH_FAVOURITES={"LANGUAGES": ("en", "fr")}):
        assert negotiate_language(request) == "fr"
    assert negotiate_language(request) == "en"


def test_staff_edit_translations_beside_the_item_in_the_admin(
    admin_client: Any, api: Any, catalogue: Any
) -> None:
    add_favourites(api.user, ["301"])
    url = "/admin/dch_favourites/catalogueitem/301/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="translations-TOTAL_FORMS"' in page.content
    before = api.get(HTTP_ACCEPT_LANGUAGE="de")

    response = admin_client.post(
        url,
        {
            "type": "film",
            "title": "Guardians of Unity",
            "short_title": "",
            "published_0": "2016-05-18",
            "published_1": "08:00:00",
            "begin_0": "",
            "begin_1": "",
            "overview_image": "",
            "detail_image": "",
            "translations-TOTAL_FORMS": "1",
            "translations-INITIAL_FORMS": "0",
            "translations-MIN_NUM_FORMS": "0",
            "translations-MAX_NUM_FORMS": "1000",
            "translations-0-language": "de",
            "translations-0-title": "Hüter der Einheit",
            "translations-0-short_title": "",
        },
    )

    assert response.status_code == 302
    assert list(
        CatalogueItemTranslation.objects.filter(item_id="301").values_list(
            "language", "title", "short_title"
        )
    ) == [("de", "Hüter der Einheit", None)]
    after = api.get(HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert titles(json.loads(after.content)) == [("301", "Hüter der Einheit", "(no key)")]


def test_the_admin_refuses_a_translation_in_the_default_language(
    admin_client: Any, catalogue: Any
) -> None:
    response = admin_client.post(
        "/admin/dch_favourites/catalogueitem/301/change/",
        {
            "type": "film",
            "title": "Guardians of Unity",
            "published_0": "2016-05-18",
            "published_1": "08:00:00",
            "translations-TOTAL_FORMS": "1",
            "translations-INITIAL_FORMS": "0",
            "translations-MIN_NUM_FORMS": "0",
            "translations-MAX_NUM_FORMS": "1000",
            "translations-0-language": "en",
            "translations-0-title": "Guardians",
        },
    )

    assert response.status_code == 200
    assert not CatalogueItemTranslation.objects.filter(item_id="301").exists()
