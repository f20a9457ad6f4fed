"""The site's own user admin, registered before dch_favourites' admin is imported."""

from django.contrib import admin

from swapped_user.models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    """Members by e-mail."""

    list_display = ("email", "name", "is_staff")
    search_fields = ("email", "name")
    ordering = ("email",)
    fields = ("email", "name", "is_staff", "is_active", "is_superuser")
