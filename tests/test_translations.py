"""The German catalogue: complete, compiled, and used by the API's errors and the admin.

The two bodies the legacy clients match on stay as the original service sent them: the 401
body and the router's 405 message.
"""

from __future__ import annotations

import ast
import gettext
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from endpoints import URL

import dch_favourites
from dch_favourites.api.errors import LEGACY_401_MESSAGE
from dch_favourites.services import add_favourites
from factories import CatalogueItemFactory, UserFactory

pytestmark = pytest.mark.django_db

MESSAGES = Path(dch_favourites.__file__).parent / "locale" / "de" / "LC_MESSAGES"
# The WWW-Authenticate error_description of RFC 6750 is ASCII only: kept in English.
ASCII_ONLY = {
    "The Authorization header is not 'Bearer <token>'.",
    "The access token is unknown or revoked.",
    "The access token has expired.",
    "The access token does not belong to an active user.",
}


def catalogue_entries(po: Path) -> list[tuple[str, str, list[str]]]:
    """(msgid, msgstr, flags) of each live entry of a .po file, header and obsolete left out."""
    entries = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        flags = [f.strip() for line in lines if line.startswith("#,") for f in line[2:].split(",")]
        fields: dict[str, str] = {}
        key = None
        for line in lines:
            match = re.match(r"(msgid|msgid_plural|msgstr|msgstr\[\d\]) (\".*\")$", line)
            if match:
                key = match.group(1)
                fields[key] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and key is not None:
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid_plural"):
            # An ngettext entry: its one and many forms, marked so they are looked up as such.
            entries.append((fields["msgid"], fields["msgstr[0]"], [*flags, "one"]))
            many = [*flags, f"many of {fields['msgid']}"]
            entries.append((fields["msgid_plural"], fields["msgstr[1]"], many))
        elif fields.get("msgid"):
            entries.append((fields["msgid"], fields["msgstr"], flags))
    return entries


def compiled_text(compiled: gettext.GNUTranslations, msgid: str, flags: list[str]) -> str:
    """What the .mo file gives for an entry (one or many of a plural entry: n = 1 or 2)."""
    if "one" in flags:
        return compiled.ngettext(msgid, msgid, 1)
    for flag in flags:
        if flag.startswith("many of "):
            return compiled.ngettext(flag.removeprefix("many of "), msgid, 2)
    return compiled.gettext(msgid)


def test_the_german_catalogue_is_complete_and_compiled() -> None:
    entries = catalogue_entries(MESSAGES / "django.po")
    with (MESSAGES / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)

    assert len(entries) >= 80
    assert [msgid for msgid, msgstr, _flags in entries if not msgstr] == []
    assert [msgid for msgid, _msgstr, flags in entries if "fuzzy" in flags] == []
    assert {msgid for msgid, msgstr, _flags in entries if msgstr == msgid} <= ASCII_ONLY
    assert [
        msgid for msgid, msgstr, flags in entries if compiled_text(compiled, msgid, flags) != msgstr
    ] == []


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext's xgettext")
def test_every_message_in_the_code_is_in_the_german_catalogue(tmp_path: Path) -> None:
    """What ``makemessages`` would find in the Python code is in the catalogue already.

    Run with the names the code marks messages with; a message marked any other way (an
    alias of ``gettext_lazy``, say) would be missed by ``makemessages`` and left English.
    """
    package = Path(dch_favourites.__file__).parent
    sources = sorted(str(path.relative_to(package)) for path in package.rglob("*.py"))
    pot = tmp_path / "code.pot"
    xgettext = shutil.which("xgettext")
    assert xgettext is not None
    subprocess.run(  # noqa: S603 -- GNU xgettext over the package's own files
        [
            xgettext,
            "--language=Python",
            "--from-code=UTF-8",
            "--keyword=_",
            "--keyword=gettext_lazy",
            "--keyword=ngettext:1,2",
            "--output",
            str(pot),
            *sources,
        ],
        cwd=package,
        check=True,
    )
    in_code = {msgid for msgid, _msgstr, _flags in catalogue_entries(pot)}
    catalogued = {msgid for msgid, _msgstr, _flags in catalogue_entries(MESSAGES / "django.po")}
    assert len(in_code) > 100
    assert sorted(in_code - catalogued) == []


def test_an_error_message_follows_accept_language(api: Any) -> None:
    german = api.post("action=drop&id=301", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    english = api.post("action=drop&id=301", HTTP_ACCEPT_LANGUAGE="en")

    assert german.status_code == english.status_code == 400
    assert json.loads(german.content) == {
        "error": {"message": "Unbekannte Aktion 'drop': add oder delete verwenden."}
    }
    assert json.loads(english.content) == {
        "error": {"message": "Unknown action 'drop': use add or delete."}
    }


def test_errors_follow_accept_language_without_localemiddleware(make_api: Any) -> None:
    middleware = [name for name in settings.MIDDLEWARE if not name.endswith(".LocaleMiddleware")]
    with override_settings(MIDDLEWARE=middleware, LANGUAGE_CODE="en"):
        api = make_api()
        action = api.post("action=drop&id=301", HTTP_ACCEPT_LANGUAGE="de")
        media = api.get(HTTP_ACCEPT="image/png", HTTP_ACCEPT_LANGUAGE="de")
        item = api.get("/v2/film/99999", HTTP_ACCEPT_LANGUAGE="de")

    assert json.loads(action.content) == {
        "error": {"message": "Unbekannte Aktion 'drop': add oder delete verwenden."}
    }
    assert media.status_code == 406
    assert json.loads(media.content) == {
        "error": {
            "message": "Nicht akzeptabel: Dieser Endpunkt liefert application/hal+json, "
            "application/json, text/json."
        }
    }
    assert json.loads(item.content) == {
        "error": {"message": "Kein Eintrag vom Typ film mit der ID '99999'."}
    }


@override_settings(DCH_FAVOURITES={"MAX_FAVOURITES_PER_USER": 1, "WRITE_THROTTLE_RATE": None})
def test_refusals_of_the_write_path_come_in_german(api: Any) -> None:
    CatalogueItemFactory(id="301")
    CatalogueItemFactory(id="302")
    add_favourites(api.user, ["301"])

    unknown = api.post("action=add&id=999&id=998", HTTP_ACCEPT_LANGUAGE="de")
    full = api.post("action=add&id=302", HTTP_ACCEPT_LANGUAGE="de")

    assert unknown.status_code == 404
    assert json.loads(unknown.content) == {"error": {"message": "Unbekannte Katalog-ID: 999, 998."}}
    assert full.status_code == 409
    assert json.loads(full.content) == {
        "error": {"message": "Die Favoritenliste ist voll: Sie fasst höchstens 1 Einträge."}
    }


def test_the_sites_404_under_the_api_comes_in_german() -> None:
    response = Client().get("/v2/no/such/resource", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 404
    assert json.loads(response.content) == {"error": {"message": "Nicht gefunden."}}


def test_the_legacy_401_and_405_bodies_stay_as_the_original_service_sent_them() -> None:
    client = Client()

    unauthorized = client.get(URL, HTTP_ACCEPT_LANGUAGE="de")
    not_allowed = client.delete(URL, HTTP_ACCEPT_LANGUAGE="de")

    assert unauthorized.status_code == 401
    assert json.loads(unauthorized.content) == {"message": LEGACY_401_MESSAGE}
    assert not_allowed.status_code == 405
    assert json.loads(not_allowed.content) == {
        "error": {
            "message": f'No route found for "DELETE {URL}": Method Not Allowed (Allow: GET, POST)'
        }
    }


def test_the_reason_in_www_authenticate_stays_ascii_english() -> None:
    response = Client().get(URL, HTTP_AUTHORIZATION="Bearer unknown", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The access token is invalid."'
    )


def columns(response: Any) -> list[str]:
    """The sortable column headers of an admin change list page (markup differs by version)."""
    from django.contrib.admin.templatetags.admin_list import result_headers
    from django.utils.text import capfirst

    return [
        capfirst(str(header["text"]))
        for header in result_headers(response.context["cl"])
        if header["sortable"]
    ]


def test_the_admin_speaks_german_to_german_staff() -> None:
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client = Client(headers={"Accept-Language": "de"})
    client.force_login(staff)
    add_favourites(UserFactory(username="ada"), [CatalogueItemFactory(id="301").pk])

    items_page = client.get("/admin/dch_favourites/catalogueitem/")
    favourites_page = client.get("/admin/dch_favourites/favourite/")
    items, favourites = items_page.content.decode(), favourites_page.content.decode()
    popular = client.get("/admin/dch_favourites/catalogueitem/popular/").content.decode()
    index = client.get("/admin/").content.decode()

    assert "<title>Katalogeintrag zur Änderung auswählen | Django-Systemverwaltung</title>" in items
    assert columns(items_page) == [
        "ID",
        "Typ",
        "Titel",
        "Kostenlos",
        "Veröffentlicht",
        "Favoriten",
        "Konzert",
    ]
    assert ">Am häufigsten favorisiert</a>" in items
    assert columns(favourites_page) == ["Hörer", "Katalogeintrag", "Typ", "Hinzugefügt"]
    assert "Benutzername oder E-Mail-Adresse des Hörers, Titel des Eintrags" in favourites
    assert '<td class="field-item_type">Film</td>' in favourites
    assert "<h1>Am häufigsten favorisierte Einträge</h1>" in popular
    assert '<a href="?since=' in popular
    assert ">Letzte 7 Tage</a>" in popular
    assert re.search(r'<a href="/admin/dch_favourites/"[^>]*>DCH-Favoriten</a>', index)
    assert ">Katalogeinträge</a>" in index
