"""Scale mode: the same GET on a database of 1 000 000 favourites and on a small one.

Each GET is a document-cache miss (the cache is emptied, untimed, before it), so what is
timed is the read of the list itself: the token's statement (django-oauth-toolkit's), the
list state's and the list's.

The large database (``dch_favourites_bench_scale``) is filled with ``generate_series``:
100 000 catalogue items (concerts, their works and interviews, films), 20 000 listeners
with a token and a list state each, and 1 000 000 favourites: listener 1 holds 100 and
the others 49 or 50 each. It is kept between runs and rebuilt when its counts are off.
The small database is the in-process benchmark's, built afresh. Both are read through
the app in one process, interleaved, by switching the database router between them.
"""

import json
import statistics

from django.db import connections
from django.test.utils import CaptureQueriesContext

from bench.harness import Answer, Client, interleaved

ITEMS = 100_000
USERS = 20_000
FAVOURITES = 1_000_000
MEASURED_USER = 1
MEASURED_SIZE = 100
TOKEN = "scale-token-{}-0123456789abcdefghijklmnopqrstuvwxyz"

#: The name of the OAuth application the fill creates; a database without it is refilled.
BUILD = "scale v2: interleaved favourites"

#: The database alias the benchmark's router sends every query to.
CURRENT = ["default"]


class SwitchRouter:
    """Routes all reads and writes to ``CURRENT[0]``."""

    def db_for_read(self, model: object, **hints: object) -> str:
        return CURRENT[0]

    def db_for_write(self, model: object, **hints: object) -> str:
        return CURRENT[0]

    def allow_relation(self, obj1: object, obj2: object, **hints: object) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        return True


def item_id(g: str) -> str:
    """SQL for the id of generated item number ``g`` (0..ITEMS-1)."""
    return (
        f"CASE WHEN ({g}) % 5 = 0 THEN (100000 + ({g}))::text "
        f"WHEN ({g}) % 5 = 4 THEN (500000 + ({g}))::text "
        f"ELSE (100000 + ({g}) - ({g}) % 5)::text || '-' || (({g}) % 5)::text END"
    )


FILL = [
    f"""
    INSERT INTO dch_favourites_catalogueitem
        (id, type, concert_id, title, short_title, is_free, published, begin,
         overview_image, detail_image, updated)
    SELECT {item_id("g")},
           CASE g % 5 WHEN 0 THEN 'concert' WHEN 4 THEN 'film' WHEN 3 THEN 'interview'
                ELSE 'work' END,
           CASE WHEN g % 5 IN (1, 2, 3) THEN (100000 + g - g % 5)::text END,
           'Item ' || g || ': Berliner Philharmoniker', NULL, g % 7 = 0,
           timestamptz '2008-01-01' + g * interval '1 hour',
           CASE WHEN g % 5 = 0 THEN timestamptz '2008-01-01' + g * interval '1 hour' END,
           '//www.bench.invalid/cms/thumbnails/{{width}}x{{height}}/images/core/' || g || '.jpg',
           NULL, now()
    FROM generate_series(0, {ITEMS - 1}) g
    """,
    f"""
    INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined)
    SELECT u, '!', false, 'scale-' || u, '', '', '', false, true, now()
    FROM generate_series(1, {USERS}) u
    """,
    "SELECT setval(pg_get_serial_sequence('auth_user', 'id'), (SELECT max(id) FROM auth_user))",
    f"""
    INSERT INTO oauth2_provider_accesstoken
        (user_id, token, token_checksum, application_id, expires, scope, resource, created,
         updated)
    SELECT u, '', encode(sha256(convert_to(replace('{TOKEN}', '{{}}', u::text), 'UTF8')), 'hex'),
           (SELECT min(id) FROM oauth2_provider_application), now() + interval '1 year',
           'read write', '[]', now(), now()
    FROM generate_series(1, {USERS}) u
    """,
    # One statement, in an interleaved order, so the measured listener's rows lie scattered
    # over the table like everyone's (favourites arrive over time, from all listeners).
    f"""
    INSERT INTO dch_favourites_favourite (user_id, item_id, added)
    SELECT user_id, item_id, added FROM (
        SELECT {MEASURED_USER} AS user_id, {item_id("k * 997")} AS item_id,
               now() - ({MEASURED_SIZE} - k) * interval '1 minute' AS added,
               k * ({FAVOURITES} / {MEASURED_SIZE}) + 7 AS arrival
        FROM generate_series(0, {MEASURED_SIZE - 1}) k
        UNION ALL
        SELECT 2 + n % {USERS - 1},
               {item_id(f"((2 + n % {USERS - 1}) * 7919 + (n / {USERS - 1}) * 4729) % {ITEMS}")},
               now() - n * interval '1 second',
               n
        FROM generate_series(0, {FAVOURITES - MEASURED_SIZE - 1}) n
    ) AS generated
    ORDER BY arrival
    """,
    f"""
    INSERT INTO dch_favourites_favouriteliststate (user_id, version, updated)
    SELECT u, 1, extract(epoch from now())::bigint FROM generate_series(1, {USERS}) u
    """,
]


def counts(alias: str) -> tuple[int, int, int]:
    """(items, users, favourites) of a database filled by this build, else zeros."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM dch_favourites_catalogueitem),"
            " (SELECT count(*) FROM auth_user), (SELECT count(*) FROM dch_favourites_favourite),"
            " (SELECT count(*) FROM oauth2_provider_application WHERE name = %s)",
            [BUILD],
        )
        items, users, favourites, built = cursor.fetchone()
    return (items, users, favourites) if built else (0, 0, 0)


def fill(alias: str) -> None:
    from oauth2_provider.models import Application

    Application.objects.using(alias).create(
        name=BUILD,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_PASSWORD,
    )
    with connections[alias].cursor() as cursor:
        for statement in FILL:
            cursor.execute(statement)
    with connections[alias].cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def explain(alias: str, sql: str) -> str:
    with connections[alias].cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def small_total() -> int:
    from dch_favourites.models import Favourite

    return Favourite.objects.using("default").count()


def scale_run(small_token: str, rounds: int) -> tuple[bool, str]:
    """Time the GET on both databases; (target met, report)."""
    big_token = TOKEN.format(MEASURED_USER)
    client = Client()
    path = "/v2/user/favourites"

    def on(alias: str, token: str) -> Answer:
        CURRENT[0] = alias
        answer = client.request("GET", path, token)
        assert answer.status == 200, answer.body[:300]
        return answer

    for alias, token in (("default", small_token), ("scale", big_token)):
        entries = json.loads(on(alias, token).body)["_links"]["favourites"]
        assert len(entries) == MEASURED_SIZE, (alias, len(entries))

    from bench.inprocess import empty_document_cache

    small, big = "small database", "1 000 000 favourites"
    timings = interleaved(
        rounds,
        {small: lambda: on("default", small_token), big: lambda: on("scale", big_token)},
        before={small: empty_document_cache, big: empty_document_cache},
    )
    ratio = timings.median(big) / timings.median(small)

    # The statements of a miss, with their parameters, for EXPLAIN.
    empty_document_cache()
    with CaptureQueriesContext(connections["scale"]) as captured:
        on("scale", big_token)
    CURRENT[0] = "default"
    token_sql, state_sql, list_sql = (query["sql"] for query in captured.captured_queries)

    def p90(name: str) -> float:
        return statistics.quantiles(timings.samples[name], n=10)[-1]

    report = [
        "| database | favourites in total | GET (cache miss) median µs | p90 µs |",
        "|---|---:|---:|---:|",
        f"| small | {small_total():,} | {timings.median(small):,.0f} | {p90(small):,.0f} |",
        f"| large | {FAVOURITES:,} | {timings.median(big):,.0f} | {p90(big):,.0f} |",
        "",
        f"Large / small: {ratio:.2f}x (target <= 1.20x): {'met' if ratio <= 1.2 else 'MISSED'}",
        "",
        "EXPLAIN (ANALYZE, BUFFERS) of the list query on the large database:",
        "",
        "```",
        explain("scale", list_sql),
        "```",
        "",
        "of the token query (django-oauth-toolkit's validator):",
        "",
        "```",
        explain("scale", token_sql),
        "```",
        "",
        "and of the list state's:",
        "",
        "```",
        explain("scale", state_sql),
        "```",
    ]
    return ratio <= 1.2, "\n".join(report)
