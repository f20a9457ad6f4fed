"""The OpenAPI schema: generated cleanly, served with its docs page, and true to the wire.

The schema is checked three ways: drf-spectacular generates it without a warning and it
validates as OpenAPI 3; every status each operation can answer is in it; and real answers
of every status validate against the schema documented for that status. The app itself
must still run where drf-spectacular is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView
from endpoints import URL as LIST

from dch_favourites.api.errors import LEGACY_401_MESSAGE
from dch_favourites.api.serializers import FavouriteChangeSerializer
from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, CatalogueItemFactory, WorkFactory

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/v2/schema/openapi.json"
ITEM = "/v2/{item_type}/{item_id}"
REPO = Path(__file__).resolve().parent.parent


def schema(client: Client | None = None, url: str = SCHEMA_URL) -> dict[str, Any]:
    response = (client or Client()).get(url)
    assert response.status_code == 200
    return json.loads(response.content)


# The API mounted elsewhere, for the test that the schema follows the URLconf.
urlpatterns = [
    path("schema.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("api/v3/", include("dch_favourites.api.urls")),
]


def test_generation_is_free_of_warnings_and_valid_openapi(tmp_path: Path) -> None:
    target = tmp_path / "openapi.yaml"
    # --fail-on-warn raises on any drf-spectacular warning; --validate checks OpenAPI 3.0.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert target.read_text(encoding="utf-8").startswith("openapi: 3.0.3")


def test_generation_leaves_the_views_as_they_are() -> None:
    from dch_favourites.api.views import CatalogueItemViewSet, FavouritesViewSet

    schema()

    for view, actions in (
        (FavouritesViewSet, ("list", "create")),
        (CatalogueItemViewSet, ("retrieve",)),
    ):
        assert "schema" not in vars(view)
        for action in actions:
            assert not hasattr(getattr(view, action), "kwargs")


def test_every_operation_documents_every_status() -> None:
    paths = schema()["paths"]

    assert sorted(paths) == [LIST, ITEM]
    assert sorted(paths[LIST]) == ["get", "post"]
    assert sorted(paths[ITEM]) == ["get"]
    statuses = {
        (path, method): sorted(int(code) for code in operation["responses"])
        for path, methods in paths.items()
        for method, operation in methods.items()
    }
    assert statuses == {
        (LIST, "get"): [200, 304, 401, 403, 405, 406, 500, 503],
        (LIST, "post"): [200, 400, 401, 403, 404, 405, 406, 409, 413, 415, 429, 500, 503],
        (ITEM, "get"): [200, 304, 401, 403, 404, 405, 406, 500, 503],
    }


def test_request_body_and_security() -> None:
    document = schema()
    post = document["paths"][LIST]["post"]

    assert sorted(post["requestBody"]["content"]) == [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ]
    assert post["security"] == [{"bearerAuth": []}]
    assert document["paths"][LIST]["get"]["security"] == [{"bearerAuth": []}]
    assert document["paths"][ITEM]["get"]["security"] == [{"bearerAuth": []}, {}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {parameter["name"] for parameter in document["paths"][LIST]["get"]["parameters"]} == {
        "Accept-Language",
        "If-None-Match",
        "If-Modified-Since",
    }


@override_settings(DCH_FAVOURITES={"ITEM_ENDPOINT_PUBLIC": False})
def test_a_private_item_endpoint_is_documented_as_such() -> None:
    assert schema()["paths"][ITEM]["get"]["security"] == [{"bearerAuth": []}]


def test_legacy_401_and_405_bodies_are_documented_as_sent() -> None:
    document = schema()
    responses = document["paths"][LIST]["get"]["responses"]
    unauthorized = responses["401"]["content"]["application/hal+json"]
    not_allowed = responses["405"]["content"]["application/hal+json"]

    assert unauthorized["examples"]["TokenNotFound"]["value"] == {"message": LEGACY_401_MESSAGE}
    assert document["components"]["schemas"]["TokenNotFound"]["required"] == ["message"]
    sent = Client().put(LIST)
    assert json.loads(sent.content) == not_allowed["examples"]["PUT"]["value"]
    assert sent.status_code == 405


def _json_schema(node: Any, components: dict[str, Any], *, closed: bool = True) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: references inlined, ``nullable`` as a type.

    ``closed``: an object allows no key but its documented properties, so that an answer
    with a key the schema does not name fails (the API's bodies are exact).
    """
    if isinstance(node, list):
        return [_json_schema(value, components, closed=closed) for value in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components, closed=closed)
    converted = {
        key: _json_schema(value, components, closed=closed)
        for key, value in node.items()
        if key not in {"nullable", "example", "description", "discriminator"}
    }
    if closed and "properties" in node and "additionalProperties" not in node:
        converted["additionalProperties"] = False
    if node.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def _examples(operation: dict[str, Any], status: int) -> dict[str, str]:
    content = operation["responses"][str(status)]["content"]["application/hal+json"]
    return {
        name: example["value"]["error"]["message"] for name, example in content["examples"].items()
    }


def test_the_schema_follows_the_settings_and_the_mount() -> None:
    default = schema()
    settings = {
        "MAX_IDS_PER_REQUEST": 7,
        "MAX_FAVOURITES_PER_USER": 12,
        "MAX_BODY_SIZE": 2048,
        "LANGUAGES": ("fr", "en", "de"),
        "DEFAULT_LANGUAGE": "fr",
    }
    with override_settings(ROOT_URLCONF=__name__, DCH_FAVOURITES=settings):
        moved = schema(url="/schema.json")
        sent = Client().put("/api/v3/user/favourites")
        sent_item = Client().put("/api/v3/film/301")
    documents = {"default": default, "moved": moved}
    lists = {"default": LIST, "moved": "/api/v3/user/favourites"}
    items = {"default": ITEM, "moved": "/api/v3/{item_type}/{item_id}"}

    seen = {}
    for name, document in documents.items():
        post = document["paths"][lists[name]]["post"]
        get = document["paths"][lists[name]]["get"]
        item = document["paths"][items[name]]["get"]
        ids = document["components"]["schemas"]["FavouriteChange"]["properties"]["id"]
        languages = {p["name"]: p["description"] for p in get["parameters"]}["Accept-Language"]
        seen[name] = {
            "paths": sorted(document["paths"]),
            "max_items": ids["anyOf"][2]["maxItems"],
            "too_many": _examples(post, 400)["TooManyIds"],
            "full": _examples(post, 409)["ListFull"],
            "too_large": _examples(post, 413)["TooLarge"],
            "languages": languages,
            "list_405": _examples(get, 405)["PUT"],
            "item_405": _examples(item, 405)["PUT"],
        }
    assert seen["default"] == {
        "paths": [LIST, ITEM],
        "max_items": 50,
        "too_many": "Too many ids: at most 50 per request.",
        "full": "The favourites list is full: it holds at most 1000 items.",
        "too_large": "Request body too large: at most 16384 bytes.",
        "languages": "Language of the titles (en, de); anything else falls back to English.",
        "list_405": 'No route found for "PUT /v2/user/favourites": '
        "Method Not Allowed (Allow: GET, POST)",
        "item_405": 'No route found for "PUT /v2/film/301": Method Not Allowed (Allow: GET)',
    }
    assert seen["moved"] == {
        "paths": ["/api/v3/user/favourites", "/api/v3/{item_type}/{item_id}"],
        "max_items": 7,
        "too_many": "Too many ids: at most 7 per request.",
        "full": "The favourites list is full: it holds at most 12 items.",
        "too_large": "Request body too large: at most 2048 bytes.",
        "languages": "Language of the titles (fr, en, de); anything else falls back to French.",
        "list_405": 'No route found for "PUT /api/v3/user/favourites": '
        "Method Not Allowed (Allow: GET, POST)",
        "item_405": 'No route found for "PUT /api/v3/film/301": Method Not Allowed (Allow: GET)',
    }
    # The 405 examples are what the API sends under that mount.
    assert json.loads(sent.content)["error"]["message"] == seen["moved"]["list_405"]
    assert json.loads(sent_item.content)["error"]["message"] == seen["moved"]["item_405"]


def test_the_schema_names_the_scopes_django_oauth_toolkit_is_configured_with() -> None:
    from django.conf import settings

    scopes = {"READ_SCOPE": "favourites.read", "WRITE_SCOPE": "favourites.write"}
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, **scopes}):
        document = schema()
    get, post = document["paths"][LIST]["get"], document["paths"][LIST]["post"]

    assert _examples(get, 403) == {
        "InsufficientScope": "The access token does not grant the 'favourites.read' scope."
    }
    assert _examples(post, 403) == {
        "InsufficientScope": "The access token does not grant the 'favourites.write' scope."
    }
    assert "'favourites.read' and 'favourites.write' scopes" in post["description"]


def test_entries_are_one_layout_per_type() -> None:
    components = schema()["components"]["schemas"]

    assert components["Entry"]["discriminator"] == {
        "propertyName": "type",
        "mapping": {
            "concert": "#/components/schemas/EventEntry",
            "work": "#/components/schemas/EventEntry",
            "interview": "#/components/schemas/EventEntry",
            "film": "#/components/schemas/FilmEntry",
            "playlist": "#/components/schemas/FilmEntry",
        },
    }
    assert list(components["EventEntry"]["properties"]) == [
        "href",
        "updated",
        "id",
        "title",
        "short_title",
        "is_free",
        "date",
        "image",
        "type",
    ]
    assert "short_title" not in components["FilmEntry"]["properties"]
    assert list(components["EventDate"]["properties"]) == ["published", "begin"]
    assert list(components["PublishedDate"]["properties"]) == ["published"]
    assert components["FilmItem"]["required"] == [
        "_links",
        "date",
        "href",
        "id",
        "image",
        "is_free",
        "title",
        "type",
        "updated",
    ]
    assert components["ActionEnum"]["enum"] == ["add", "delete", "remove"]


JSON_BODIES = [
    {"action": "add", "id": "301"},
    {"action": "delete", "id": ["301", "23427-1"]},
    {"action": "remove", "id": 301},
    {"action": "add", "id": [301, "302"]},
    {"action": "add", "id": [str(n) for n in range(50)]},
    {"action": "add", "id": "a" * 64},
    {"action": "add", "id": [str(n) for n in range(51)]},
    {"action": "add", "id": []},
    {"action": "add", "id": "a" * 65},
    {"action": "add", "id": " 301"},
    {"action": "add", "id": "-1"},
    {"action": "add", "id": -1},
    {"action": "add", "id": True},
    {"action": "add", "id": None},
    {"action": "add", "id": {"id": "301"}},
    {"action": "add"},
    {"id": "301"},
    {"action": "ADD", "id": "301"},
    {"action": "", "id": "301"},
    {"action": ["add"], "id": "301"},
    {"action": None, "id": "301"},
    ["add", "301"],
    "action=add&id=301",
]


@pytest.mark.parametrize("body", JSON_BODIES)
def test_the_request_schema_accepts_what_the_serializer_accepts(body: Any) -> None:
    document = schema()
    content = document["paths"][LIST]["post"]["requestBody"]["content"]
    request_schema = _json_schema(
        content["application/json"]["schema"], document["components"]["schemas"], closed=False
    )

    by_schema = jsonschema.Draft7Validator(request_schema).is_valid(body)

    assert FavouriteChangeSerializer(data=body).is_valid() is by_schema


def _documented(document: dict[str, Any], path: str, method: str, response: Any) -> None:
    """Assert that ``response`` is documented for ``path`` and fits the documented schema."""
    operations = document["paths"][path]
    # A method the path does not serve is answered by every operation's 405.
    operation = operations.get(method.lower()) or next(iter(operations.values()))
    documented = operation["responses"][str(response.status_code)]
    if response.status_code == 304:
        assert response.content == b""
        assert "content" not in documented
        return
    media_type = response["Content-Type"].split(";")[0]
    body_schema = documented["content"][media_type]["schema"]
    jsonschema.validate(
        json.loads(response.content),
        _json_schema(body_schema, document["components"]["schemas"]),
    )
    for header in documented.get("headers", {}):
        assert header in response, f"{header} documented for {response.status_code}, not sent"


@pytest.fixture
def tokens(db: Any) -> dict[str, str]:
    for item_id in ("301", "302"):
        CatalogueItemFactory(id=item_id, overview_image="//img.example.com/{width}x{height}/a.jpg")
    WorkFactory(id="23427-1")
    full = AccessTokenFactory(token="schema-token-0123456789abcdef")
    add_favourites(full.user, ["301", "23427-1"])
    return {
        "full": full.token,
        "read": AccessTokenFactory(
            user=full.user, scope="read", token="schema-read-0123456789"
        ).token,
    }


def test_real_answers_of_every_status_fit_the_schema(tokens: dict[str, str]) -> None:
    document = schema()
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['full']}"}
    read_only = {"HTTP_AUTHORIZATION": f"Bearer {tokens['read']}"}
    form = "application/x-www-form-urlencoded"

    listed = client.get(LIST, **auth)
    answers = [
        (LIST, "GET", listed),
        (LIST, "GET", client.get(LIST, HTTP_ACCEPT="text/json", **auth)),
        (LIST, "GET", client.get(LIST, HTTP_IF_NONE_MATCH=listed["ETag"], **auth)),
        (LIST, "GET", client.get(LIST)),
        (LIST, "GET", client.get(LIST, HTTP_ACCEPT="text/html", **auth)),
        (LIST, "POST", client.post(LIST, "action=add&id=302", content_type=form, **auth)),
        (
            LIST,
            "POST",
            client.post(
                LIST, {"action": "delete", "id": "302"}, content_type="application/json", **auth
            ),
        ),
        (LIST, "POST", client.post(LIST, "action=ADD&id=302", content_type=form, **auth)),
        (LIST, "POST", client.post(LIST, "action=add&id=302", content_type=form, **read_only)),
        (LIST, "POST", client.post(LIST, "action=add&id=999", content_type=form, **auth)),
        (LIST, "POST", client.post(LIST, "action=add&id=302", content_type="text/plain", **auth)),
        (
            LIST,
            "POST",
            client.post(LIST, "action=add&id=302&x=" + "y" * 20000, content_type=form, **auth),
        ),
        (LIST, "PUT", client.put(LIST, **auth)),
        (ITEM, "GET", client.get("/v2/film/301")),
        (ITEM, "GET", client.get("/v2/work/23427-1", **auth)),
        (ITEM, "GET", client.get("/v2/film/999")),
        (ITEM, "GET", client.get("/v2/song/301")),
        (ITEM, "POST", client.post("/v2/film/301")),
    ]
    with override_settings(DCH_FAVOURITES={"MAX_FAVOURITES_PER_USER": 2}):
        answers.append(
            (LIST, "POST", client.post(LIST, "action=add&id=302", content_type=form, **auth))
        )
    cache.clear()
    with override_settings(DCH_FAVOURITES={"WRITE_THROTTLE_RATE": "1/min"}):
        client.post(LIST, "action=add&id=302", content_type=form, **auth)
        answers.append(
            (LIST, "POST", client.post(LIST, "action=delete&id=302", content_type=form, **auth))
        )
    cache.clear()

    assert sorted({answer.status_code for _path, _method, answer in answers}) == [
        200,
        304,
        400,
        401,
        403,
        404,
        405,
        406,
        409,
        413,
        415,
        429,
    ]
    for url, method, answer in answers:
        _documented(document, url, method, answer)


def test_the_docs_page_is_served_without_a_cdn() -> None:
    response = Client().get("/v2/docs/")
    page = response.content.decode()

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert SCHEMA_URL in page
    assert "https://" not in page
    assert "http://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{asset}")


def test_the_app_runs_without_drf_spectacular(tmp_path: Path) -> None:
    (tmp_path / "plain_settings.py").write_text(
        textwrap.dedent(
            """
            import sys
            sys.modules["drf_spectacular"] = None  # any import of it fails
            from settings import *  # noqa: F403
            INSTALLED_APPS = [a for a in INSTALLED_APPS if "spectacular" not in a]  # noqa: F405
            REST_FRAMEWORK = {}
            ROOT_URLCONF = "plain_urls"
            DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
            """
        )
    )
    (tmp_path / "plain_urls.py").write_text(
        "from django.urls import include, path\n"
        'urlpatterns = [path("v2/", include("dch_favourites.api.urls"))]\n'
    )
    script = textwrap.dedent(
        """
        import sys
        import django
        django.setup()
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment
        from factories import AccessTokenFactory
        setup_test_environment()
        call_command("migrate", verbosity=0)
        token = AccessTokenFactory().token
        response = Client().get("/v2/user/favourites", HTTP_AUTHORIZATION="Bearer " + token)
        assert "dch_favourites.api.schema" not in sys.modules
        print(response.status_code, response.content.decode())
        """
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "plain_settings",
        "PYTHONPATH": os.pathsep.join(
            [str(tmp_path), str(REPO / "example_project"), str(REPO / "tests")]
        ),
    }
    environment.pop("DATABASE_URL", None)

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-W", "error", "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '200 {"updated":0,"_links":{"favourites":[]}}'
