"""The example site opts in to the favourites inline on Django's user admin."""

from dch_favourites.admin import register_user_favourites

register_user_favourites()
