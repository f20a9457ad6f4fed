"""Signals sent after a listener's list changed, once per effective change, on commit.

Both carry ``user`` (the listener), ``items`` (a tuple of catalogue item ids, in the
order they were applied) and ``source`` (a :class:`dch_favourites.services.Source`:
``"api"``, ``"admin"``, ``"cascade"``, ``"command"`` or ``"python"``)::

    from django.dispatch import receiver
    from dch_favourites.signals import favourite_added

    @receiver(favourite_added)
    def count_likes(sender, user, items, source, **kwargs):
        for item_id in items:
            metrics.increment("favourites.added", tags={"item": item_id, "via": source})
"""

from __future__ import annotations

from django.dispatch import Signal

favourite_added = Signal()
favourite_removed = Signal()
