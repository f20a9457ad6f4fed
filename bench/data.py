"""The benchmark's own data, made with the project's models and its write path."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from dch_favourites.models import (
    CATALOGUE_STATE_ID,
    CONCERT_PART_TYPES,
    CatalogueItem,
    CatalogueItemTranslation,
    CatalogueState,
    concert_id_of,
)
from dch_favourites.services import Source, add_favourites

IMAGE = "//www.bench.invalid/cms/thumbnails/{width}x{height}/images/core/bench_%d.jpg"
SPARE_ITEMS = 10


@dataclass(frozen=True)
class Listener:
    """A benchmark user: how many favourites they hold, their token, an item not on their list."""

    size: int
    user_id: int
    token: str
    spare_item: str


def catalogue(count: int, start: int = 0) -> list[CatalogueItem]:
    """``count`` items: concerts with their works and interviews, and films."""
    base = datetime(2016, 9, 1, 9, 0, tzinfo=UTC)
    now = timezone.now()
    items: list[CatalogueItem] = []
    n = start
    while len(items) < count:
        concert = str(20000 + n)
        begin = base + timedelta(days=n)
        items.append(
            CatalogueItem(
                id=concert,
                type="concert",
                title=f"Concert {n}: Berliner Philharmoniker",
                short_title=f"Concert {n}",
                is_free=n % 7 == 0,
                published=begin - timedelta(days=5),
                begin=begin,
                overview_image=IMAGE % n,
                detail_image=IMAGE % (n + 1),
                updated=now,
            )
        )
        for part in range(1, 5):
            kind = "interview" if part == 4 else "work"
            items.append(
                CatalogueItem(
                    id=f"{concert}-{part}",
                    type=kind,
                    title=f"Work {part} of concert {n} [Éclat]",
                    short_title=None,
                    is_free=part == 4,
                    published=begin - timedelta(days=5),
                    begin=None,
                    overview_image=IMAGE % n if part != 4 else None,
                    detail_image=IMAGE % n if part != 4 else None,
                    updated=now,
                )
            )
        items.append(
            CatalogueItem(
                id=str(300 + n),
                type="film",
                title=f"“Film {n}”: Conductors in conversation",
                is_free=False,
                published=begin,
                overview_image=IMAGE % n,
                detail_image=None,
                updated=now,
            )
        )
        n += 1
    for item in items:
        item.concert_id = concert_id_of(item.id) if item.type in CONCERT_PART_TYPES else None
    return items[:count]


def build(sizes: tuple[int, ...]) -> dict[int, Listener]:
    """One listener per size, each with that many favourites added through the services."""
    total = max(sizes) + SPARE_ITEMS
    items = CatalogueItem.objects.bulk_create(catalogue(total), batch_size=500)
    CatalogueItemTranslation.objects.bulk_create(
        [
            CatalogueItemTranslation(item=item, language="de", title=f"DE {item.title}")
            for item in items[::3]
        ],
        batch_size=500,
    )
    # New concerts move the catalogue clock, which runs a second ahead of the time when it
    # moves twice in one second: wait until it is past, so every list changes after the
    # catalogue did and its top-level `updated` is its own (the floor reads no catalogue
    # clock; the app's documents show the later of the two).
    clock = CatalogueState.objects.filter(pk=CATALOGUE_STATE_ID).first()
    while clock is not None and time.time() <= clock.updated:
        time.sleep(0.05)
    favouritable = [item.id for item in items]
    application = Application.objects.create(
        name="bench",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_PASSWORD,
    )
    listeners: dict[int, Listener] = {}
    for size in sizes:
        user = get_user_model().objects.create(username=f"bench-{size}")
        token = f"bench-token-{size}-0123456789abcdefghijklmnopqrstuvwxyz"
        AccessToken.objects.create(
            user=user,
            application=application,
            token=token,
            scope="read write",
            expires=timezone.now() + timedelta(days=365),
        )
        # Oldest first, 50 at a time (the API's limit), so `added` varies along the list.
        chosen = favouritable[:size]
        for start in range(0, size, 50):
            add_favourites(user, chosen[start : start + 50], source=Source.COMMAND)
        listeners[size] = Listener(size, user.pk, token, favouritable[size])
    return listeners
