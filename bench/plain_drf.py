"""The plain-DRF reference: the same endpoint as a careful DRF developer would write it.

django-oauth-toolkit's documented DRF integration (``OAuth2Authentication``,
``TokenHasScope``), a nested ``ModelSerializer`` over ``select_related`` favourites, DRF's
own ``JSONRenderer`` (compact, unicode) and an ETag from the list state. Writes go through
the project's services, like every other door. The body is the app's, byte for byte.
"""

from typing import Any

from django.conf import settings
from django.db import transaction
from oauth2_provider.contrib.rest_framework import OAuth2Authentication, TokenHasScope
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from dch_favourites.models import CatalogueItem, Favourite, FavouriteListState
from dch_favourites.services import Source, add_favourites, remove_favourites

WITH_BEGIN = frozenset({"concert", "work", "interview"})


class UnixSecondsField(serializers.DateTimeField):
    def to_representation(self, value: Any) -> int | None:
        return None if value is None else int(value.timestamp())


class CatalogueItemEntrySerializer(serializers.ModelSerializer):
    href = serializers.SerializerMethodField()
    updated = UnixSecondsField(read_only=True)
    date = serializers.SerializerMethodField()
    image = serializers.SerializerMethodField()

    class Meta:
        model = CatalogueItem
        fields = (
            "href",
            "updated",
            "id",
            "title",
            "short_title",
            "is_free",
            "date",
            "image",
            "type",
        )

    def get_href(self, item: CatalogueItem) -> str:
        return f"{settings.DCH_FAVOURITES['API_BASE_URL']}/{item.type}/{item.id}"

    def get_date(self, item: CatalogueItem) -> dict[str, Any]:
        seconds = UnixSecondsField().to_representation
        date: dict[str, Any] = {"published": seconds(item.published)}
        if item.type in WITH_BEGIN:
            concert = item.concert
            date["begin"] = seconds(concert.begin if concert is not None else item.begin)
        return date

    def get_image(self, item: CatalogueItem) -> dict[str, Any]:
        return {"overview": item.overview_image or None, "detail": item.detail_image or None}

    def to_representation(self, instance: CatalogueItem) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.type in WITH_BEGIN:
            data["short_title"] = data["short_title"] or None
        else:
            del data["short_title"]
        return data


class FavouriteSerializer(serializers.ModelSerializer):
    item = CatalogueItemEntrySerializer(read_only=True)

    class Meta:
        model = Favourite
        fields = ("item",)

    def to_representation(self, instance: Favourite) -> Any:
        return super().to_representation(instance)["item"]


class FavouriteChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=("add", "delete"))
    id = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=50
    )


class FavouritesView(APIView):
    authentication_classes = (OAuth2Authentication,)
    permission_classes = (TokenHasScope,)
    renderer_classes = (JSONRenderer,)
    parser_classes = (FormParser, JSONParser)

    @property
    def required_scopes(self) -> list[str]:
        return ["read"] if self.request.method in ("GET", "HEAD") else ["write"]

    def favourites(self, user: Any, state: FavouriteListState | None) -> Response:
        queryset = (
            Favourite.objects.filter(user=user)
            .select_related("item", "item__concert")
            .order_by("-added", "-id")
        )
        version, updated = (state.version, state.updated) if state else (0, 0)
        body = {
            "updated": updated,
            "_links": {"favourites": FavouriteSerializer(queryset, many=True).data},
        }
        return Response(body, headers={"ETag": f'"{user.pk}-{version}-{updated}"'})

    def get(self, request: Any) -> Response:
        state = FavouriteListState.objects.filter(user=request.user).first()
        version, updated = (state.version, state.updated) if state else (0, 0)
        etag = f'"{request.user.pk}-{version}-{updated}"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return self.favourites(request.user, state)

    def post(self, request: Any) -> Response:
        change = FavouriteChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        apply = add_favourites if change.validated_data["action"] == "add" else remove_favourites
        with transaction.atomic():
            apply(request.user, change.validated_data["id"], source=Source.API)
            state = FavouriteListState.objects.filter(user=request.user).first()
            return self.favourites(request.user, state)
