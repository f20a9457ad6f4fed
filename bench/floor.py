"""The floor: the least Django can do for ``/user/favourites``.

A bare function view, no DRF and no ORM on the request path: the same bearer token lookup
(by the token's SHA-256 checksum, with the user and the list state in one query), one raw
SQL query for the list and ``orjson.dumps`` of the same body the app sends. POST does the
same work as the app's write path (item check, row lock, insert or delete, version bump,
list read) in raw SQL. Only what the benchmark sends is handled; errors are bare.
"""

import functools
import hashlib
from datetime import UTC, datetime

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

TOKEN_SQL = """
SELECT t.user_id, t.expires, t.scope, u.is_active, s.version, s.updated
FROM oauth2_provider_accesstoken t
JOIN auth_user u ON u.id = t.user_id
LEFT JOIN dch_favourites_favouriteliststate s ON s.user_id = t.user_id
WHERE t.token_checksum = %s
"""

LIST_SQL = """
SELECT i.id, i.type, i.title, i.short_title, i.is_free, {published},
       {begin}, i.overview_image, i.detail_image, {updated}
FROM dch_favourites_favourite f
JOIN dch_favourites_catalogueitem i ON i.id = f.item_id
LEFT JOIN dch_favourites_catalogueitem c ON c.id = i.concert_id
WHERE f.user_id = %s
ORDER BY f.added DESC, f.id DESC
"""

# Unix seconds are computed by the database, as the app's query does.
SECONDS = {
    "postgresql": "TRUNC(EXTRACT(EPOCH FROM {}))::bigint",
    "sqlite": "CAST(strftime('%%s', {}) AS INTEGER)",
}


@functools.cache
def list_sql(vendor: str) -> str:
    seconds = SECONDS[vendor].format
    return LIST_SQL.format(
        published=seconds("i.published"),
        begin=seconds("COALESCE(c.begin, i.begin)"),
        updated=seconds("i.updated"),
    )


WITH_BEGIN = frozenset({"concert", "work", "interview"})
CONTENT_TYPE = "application/json; charset=utf-8"


def entries(user_id: int) -> list[dict]:
    base = settings.DCH_FAVOURITES["API_BASE_URL"]
    with connection.cursor() as cursor:
        cursor.execute(list_sql(connection.vendor), [user_id])
        rows = cursor.fetchall()
    result = []
    for item_id, kind, title, short, free, published, begin, overview, detail, updated in rows:
        entry = {"href": f"{base}/{kind}/{item_id}", "updated": updated, "id": item_id}
        entry["title"] = title
        if kind in WITH_BEGIN:
            entry["short_title"] = short or None
            entry["is_free"] = bool(free)
            entry["date"] = {"published": published, "begin": begin}
        else:
            entry["is_free"] = bool(free)
            entry["date"] = {"published": published}
        entry["image"] = {"overview": overview or None, "detail": detail or None}
        entry["type"] = kind
        result.append(entry)
    return result


def authenticate(request: HttpRequest, scope: str) -> tuple[int, int, int] | None:
    """(user id, version, updated) of a valid bearer token with ``scope``, else None."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    checksum = hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(TOKEN_SQL, [checksum])
        row = cursor.fetchone()
    if row is None:
        return None
    user_id, expires, scopes, active, version, updated = row
    if isinstance(expires, str):
        expires = datetime.fromisoformat(expires)
    if expires.tzinfo is None:  # SQLite: naive UTC
        expires = expires.replace(tzinfo=UTC)
    if not active or expires <= timezone.now() or scope not in scopes.split():
        return None
    return user_id, version or 0, updated or 0


def document(user_id: int, version: int, updated: int) -> HttpResponse:
    body = orjson.dumps({"updated": updated, "_links": {"favourites": entries(user_id)}})
    response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["ETag"] = f'"{user_id}-{version}-{updated}"'
    response["Last-Modified"] = http_date(updated)
    return response


@csrf_exempt
def favourites(request: HttpRequest) -> HttpResponse:
    """GET (with If-None-Match) and POST ``action=add|delete&id=...``."""
    write = request.method == "POST"
    found = authenticate(request, "write" if write else "read")
    if found is None:
        return HttpResponse(b'{"message":"A Token was not found in the TokenStorage."}', status=401)
    user_id, version, updated = found
    if not write:
        etag = f'"{user_id}-{version}-{updated}"'
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponse(status=304)
            response["ETag"] = etag
            return response
        return document(user_id, version, updated)
    action, ids = request.POST.get("action"), list(dict.fromkeys(request.POST.getlist("id")))
    if action not in ("add", "delete") or not ids:
        return HttpResponse(b'{"error":{"message":"Bad request."}}', status=400)
    marks = ", ".join(["%s"] * len(ids))
    with transaction.atomic(), connection.cursor() as cursor:
        if action == "add":
            lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
            cursor.execute(
                f"SELECT id FROM dch_favourites_catalogueitem WHERE id IN ({marks}){lock}", ids
            )
            if len(cursor.fetchall()) != len(ids):
                return HttpResponse(b'{"error":{"message":"Unknown id."}}', status=404)
        cursor.execute(
            "INSERT INTO dch_favourites_favouriteliststate (user_id, version, updated) "
            "VALUES (%s, 0, 0) ON CONFLICT DO NOTHING",
            [user_id],
        )
        lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
        cursor.execute(
            "SELECT version, updated FROM dch_favourites_favouriteliststate "
            f"WHERE user_id = %s{lock}",
            [user_id],
        )
        version, updated = cursor.fetchone()
        if action == "add":
            rows = [value for item_id in ids for value in (user_id, item_id, timezone.now())]
            cursor.execute(
                "INSERT INTO dch_favourites_favourite (user_id, item_id, added) VALUES "
                + ", ".join(["(%s, %s, %s)"] * len(ids))
                + " ON CONFLICT DO NOTHING RETURNING item_id",
                rows,
            )
        else:
            cursor.execute(
                f"DELETE FROM dch_favourites_favourite WHERE user_id = %s AND item_id IN ({marks}) "
                "RETURNING item_id",
                [user_id, *ids],
            )
        if cursor.fetchall():
            version, updated = version + 1, max(int(timezone.now().timestamp()), updated + 1)
            cursor.execute(
                "UPDATE dch_favourites_favouriteliststate SET version = %s, updated = %s "
                "WHERE user_id = %s",
                [version, updated, user_id],
            )
        return document(user_id, version, updated)
