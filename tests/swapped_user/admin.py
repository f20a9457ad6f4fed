"""The site's own user admin, with the favourites inline mixed in (the site opts in)."""

from django.contrib import admin

from dch_favourites.admin import UserFavouritesAdminMixin
from swapped_user.models import Member


@admin.register(Member)
class MemberAdmin(UserFavouritesAdminMixin, admin.ModelAdmin):
    """Members by e-mail."""

    list_display = ("email", "name", "is_staff")
    search_fields = ("email", "name")
    ordering = ("email",)
    fields = ("email", "name", "is_staff", "is_active", "is_superuser")
