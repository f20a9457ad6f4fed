"""The example site as an app, for its ``demo`` command."""

from django.apps import AppConfig


class DemoSiteConfig(AppConfig):
    name = "demo_site"
    default_auto_field = "django.db.models.BigAutoField"
