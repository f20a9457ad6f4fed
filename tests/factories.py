"""factory-boy factories for users, catalogue items and OAuth2 tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from dch_favourites.models import CatalogueItem, CatalogueItemTranslation


def ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"listener{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("secret")
    is_active = True


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    name = factory.Sequence(lambda n: f"app {n}")
    client_type = Application.CLIENT_CONFIDENTIAL
    authorization_grant_type = Application.GRANT_PASSWORD


class AccessTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessToken

    user = factory.SubFactory(UserFactory)
    application = factory.SubFactory(ApplicationFactory)
    token = factory.Sequence(lambda n: f"token-{n:06d}-abcdefghijklmnop")
    scope = "read write"
    expires = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


class CatalogueItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CatalogueItem

    id = factory.Sequence(lambda n: str(1000 + n))
    type = "film"
    title = factory.Sequence(lambda n: f"Film {n}")
    short_title = None
    is_free = False
    published = factory.LazyFunction(lambda: ts(1463558400))
    begin = None
    overview_image = None
    detail_image = None


class ConcertFactory(CatalogueItemFactory):
    id = factory.Sequence(lambda n: str(50000 + n))
    type = "concert"
    title = factory.Sequence(lambda n: f"Concert {n}")
    begin = factory.LazyFunction(lambda: ts(1472229000))


class WorkFactory(CatalogueItemFactory):
    id = factory.Sequence(lambda n: f"60000-{n + 1}")
    type = "work"
    title = factory.Sequence(lambda n: f"Work {n}")
    begin = factory.LazyFunction(lambda: ts(1472229000))


class TranslationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CatalogueItemTranslation

    item = factory.SubFactory(CatalogueItemFactory)
    language = "de"
    title = factory.Sequence(lambda n: f"Titel {n}")


# -- Sign-in like the original apps (dch_favourites.oauth2) ------------------------------

APP_SECRET = "app-secret-0123456789"


class SignInApplicationFactory(ApplicationFactory):
    """An app as ``createapplication confidential password --client-id ... --client-secret``
    makes it: the device, password and refresh grants, a known secret (stored hashed)."""

    class Meta:
        model = Application
        django_get_or_create = ("client_id",)

    client_id = factory.Sequence(lambda n: f"dch.app{n}")
    client_secret = APP_SECRET


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "dch_favourites.Device"

    application = factory.SubFactory(SignInApplicationFactory)
    app_version = "1.95.0"
    app_distributor = "berlinphil"
    device_vendor = "Google"
    device_model = "Pixel 8"
    affiliate = "none"
