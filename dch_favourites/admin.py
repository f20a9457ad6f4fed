"""The Django admin for the catalogue, the listeners' favourites and their devices.

Every change goes through :mod:`dch_favourites.services` (``source=Source.ADMIN``). Only the
app's own models are registered; a site opts in to the favourites inline on its user admin
with :class:`UserFavouritesAdminMixin` or :func:`register_user_favourites`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers, widgets
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import display_for_value
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import router, transaction
from django.db.models import Count, ForeignKey, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dch_favourites import services
from dch_favourites.conf import app_settings
from dch_favourites.models import CatalogueItem, CatalogueItemTranslation, Device, Favourite

if TYPE_CHECKING:
    from django.contrib.admin.options import InlineModelAdmin

    _ModelAdmin = admin.ModelAdmin[Any]
    _TabularInline = admin.TabularInline[Any, Any]
    _InlineFormSet = BaseInlineFormSet[Any, Any, Any]
    _TranslationModelForm = forms.ModelForm[CatalogueItemTranslation]
    _FavouriteModelForm = forms.ModelForm[Favourite]
else:
    _ModelAdmin = admin.ModelAdmin
    _TabularInline = admin.TabularInline
    _InlineFormSet = BaseInlineFormSet
    _TranslationModelForm = _FavouriteModelForm = forms.ModelForm

#: How many items the "most favourited" view lists unless asked for another number.
POPULAR_DEFAULT_LIMIT = 50
#: The period the "most favourited" view shows first, in days up to today.
POPULAR_DEFAULT_DAYS = 30

NUL = "\x00"
NUL_LEFT_OUT = _(
    "A search or filter value held a NUL character, which no value can contain: it was left out."
)
BAD_SELECTION = _("The selection names no row of this list; nothing was changed.")


def check_room(user_pk: Any, adding: int, removing: int = 0) -> None:
    """Raise a ``ValidationError`` when ``adding`` more favourites would overfill the list.

    The service checks again under lock; this turns the common case into a form error.
    """
    if adding <= 0:
        return
    held = Favourite.objects.filter(user_id=user_pk).count() if user_pk is not None else 0
    limit = app_settings.MAX_FAVOURITES_PER_USER
    if held - removing + adding > limit:
        raise ValidationError(services.ListFull(limit).message, code="list_full")


class StaffInputAdmin(_ModelAdmin):
    """Malformed input and refused changes get Django's normal answers, never a 500.

    A NUL character cannot be stored in a PostgreSQL text column, and a query comparing one
    with such a column fails; whatever the database, no row holds one. So an object id with
    a NUL is an unknown object, a search term with one finds nothing, a changelist filter
    with one is left out (with a message), and a bulk action whose checkboxes name no
    possible row is refused (with a message) before anything runs. A change the write path
    refuses at save time (forms check the list's room first, but a concurrent change may
    fill it before the save) is a message; nothing was applied.
    """

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        # A date filter past either end of the calendar (a date hierarchy on 9999,
        # ``added__gte=0001-01-01`` east of UTC) overflows while the query is built: Django's
        # answer to a lookup it cannot apply (the list again, unfiltered), not a 500.
        try:
            return super().get_changelist_instance(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        kept = QueryDict(mutable=True)
        for key, values in request.GET.lists():
            clean = [value for value in values if NUL not in value]
            if NUL not in key and clean:
                kept.setlist(key, clean)
        if kept != request.GET:
            self.message_user(request, NUL_LEFT_OUT, messages.WARNING)
            return HttpResponseRedirect(request.path + (f"?{kept.urlencode()}" if kept else ""))
        return super().changelist_view(request, extra_context)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except services.FavouritesError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        if NUL in object_id:
            return None
        return super().get_object(request, object_id, from_field)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if NUL in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        pk = self.opts.pk
        try:  # each selected value must be a primary key some row could have
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                ProhibitNullCharactersValidator()(value)
                pk.run_validators(pk.to_python(value))
        except ValidationError:
            self.message_user(request, BAD_SELECTION, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset, *args, **kwargs)


class TranslationForm(_TranslationModelForm):
    """A translation's language is chosen from the configured languages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default = app_settings.DEFAULT_LANGUAGE
        codes = [code for code in app_settings.LANGUAGES if code != default]
        if self.instance.language and self.instance.language not in codes:
            codes.append(self.instance.language)
        self.fields["language"] = forms.ChoiceField(
            label=_("language"), choices=[("", "---------"), *[(code, code) for code in codes]]
        )


class CatalogueItemTranslationInline(_TabularInline):
    """The item's titles in the languages other than the default one."""

    model = CatalogueItemTranslation
    form = TranslationForm
    extra = 0


@admin.register(CatalogueItem)
class CatalogueItemAdmin(StaffInputAdmin):
    """Catalogue items, with how many listeners hold each; saving moves their lists."""

    list_display = (
        "id",
        "type",
        "title",
        "is_free",
        "published",
        "favourite_count",
        "concert_link",
    )
    list_filter = ("type", "is_free", "published")
    search_fields = ("^id", "title")
    search_help_text = _("Id (or its beginning) or title.")
    date_hierarchy = "published"
    show_full_result_count = False
    list_per_page = 100
    fields = (
        "id",
        "type",
        "title",
        "short_title",
        "is_free",
        "published",
        "begin",
        "overview_image",
        "detail_image",
        "concert_link",
        "favourite_count",
        "updated",
    )
    readonly_fields = ("concert_link", "favourite_count", "updated")
    inlines = (CatalogueItemTranslationInline,)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        # The item and its translations move the catalogue's clock once, in the save's
        # own transaction.
        with transaction.atomic(using=router.db_for_write(self.model)), services.catalogue_batch():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_model(self, request: HttpRequest, obj: CatalogueItem) -> None:
        # The delete view runs in a transaction: an item more listeners hold than one batch
        # of services.delete_catalogue_items is deleted by it once that transaction has
        # committed (still in this request), so that its holders' POSTs never wait long.
        if not services.delete_catalogue_items_on_commit([obj.pk]):
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CatalogueItem]) -> None:
        # The delete action runs outside a transaction (unless the site sets
        # ATOMIC_REQUESTS): holders are released in batches of their own, then the items
        # go in one transaction. Inside the request's transaction, items held by more than
        # a batch go the same way once it has committed.
        item_ids = list(queryset.values_list("pk", flat=True))
        if not services.delete_catalogue_items_on_commit(item_ids):
            services.delete_catalogue_items(item_ids)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CatalogueItem]:
        held = (
            Favourite.objects.filter(item_id=OuterRef("pk"))
            .order_by()
            .values("item_id")
            .annotate(count=Count("pk"))
            .values("count")
        )
        # A correlated count runs only for the rows of the page, not over the whole table.
        items: QuerySet[CatalogueItem] = super().get_queryset(request)
        return items.select_related("concert").annotate(favourite_count=Coalesce(Subquery(held), 0))

    def get_readonly_fields(
        self, request: HttpRequest, obj: CatalogueItem | None = None
    ) -> tuple[str, ...]:
        # The id is the primary key: changing it would create a second item.
        readonly = tuple(super().get_readonly_fields(request, obj))
        return ("id", *readonly) if obj is not None else readonly

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.popular_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_popular"
        return [path("popular/", view, name=name), *super().get_urls()]

    @admin.display(description=_("favourites"), ordering="favourite_count")
    def favourite_count(self, obj: CatalogueItem) -> str:
        """How many listeners hold the item, linked to those favourites."""
        count = getattr(obj, "favourite_count", 0)
        url = self._favourites_url(item__exact=obj.pk)
        return format_html('<a href="{}">{}</a>', url, count) if url and count else str(count)

    @admin.display(description=_("concert"), ordering="concert__title")
    def concert_link(self, obj: CatalogueItem) -> str:
        """The concert a work or interview belongs to, linked to its page."""
        if not obj.concert_id:
            return "-"
        concert = obj.concert  # joined by get_queryset: None when it is not there
        if concert is None:
            return format_html("{} ({})", obj.concert_id, _("not in the catalogue"))
        url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[concert.pk],
        )
        return format_html('<a href="{}">{}: {}</a>', url, concert.pk, concert.title)

    def popular_view(self, request: HttpRequest) -> HttpResponse:
        """The most favourited items over a period (favourites added in it and still held)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()

        def last(days: int) -> dict[str, str]:
            return {"since": str(today - timedelta(days=days - 1)), "until": str(today)}

        default = {**last(POPULAR_DEFAULT_DAYS), "limit": str(POPULAR_DEFAULT_LIMIT)}
        form = PopularPeriodForm(request.GET or default)
        rows: list[dict[str, Any]] = []
        if form.is_valid():
            since = _start_of(form.cleaned_data["since"])
            until = _start_of(form.cleaned_data["until"], days_later=1)
            limit = form.cleaned_data["limit"] or POPULAR_DEFAULT_LIMIT
            ranking = CatalogueItem.objects.popular(since=since, until=until, limit=limit)
            rows = [
                {
                    "rank": rank,
                    "item": item,
                    "favourites_url": self._favourites_url(
                        item__exact=item.pk, added__gte=since, added__lt=until
                    ),
                }
                for rank, item in enumerate(ranking, start=1)
            ]
        periods = [
            (_("Last 7 days"), last(7)),
            (_("Last 30 days"), last(30)),
            (_("Last 365 days"), last(365)),
            (_("All time"), {"since": "", "until": ""}),
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Most favourited items"),
            "form": form,
            "rows": rows,
            "periods": [(label, "?" + urlencode(query)) for label, query in periods],
        }
        return TemplateResponse(request, "admin/dch_favourites/catalogueitem/popular.html", context)

    def _favourites_url(self, **query: Any) -> str | None:
        try:
            base = reverse(f"{self.admin_site.name}:dch_favourites_favourite_changelist")
        except NoReverseMatch:
            return None
        return base + "?" + urlencode({key: value for key, value in query.items() if value})


class PopularPeriodForm(forms.Form):
    """The period (whole days, both ends included) and length of the ranking."""

    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Included. Leave both dates empty for all time."),
    )
    limit = forms.IntegerField(label=_("How many"), required=False, min_value=1, max_value=1000)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise ValidationError(_("The period ends before it begins."), code="period")
        return cleaned


def _start_of(day: date | None, days_later: int = 0) -> datetime | None:
    """Midnight at the start of ``day`` (plus ``days_later``) in the current time zone.

    ``None`` (no bound) for no day, and for a moment the database cannot hold because it
    lies before the first or after the last day of the calendar: no favourite is older or
    newer than that, so the period is the same without the bound.
    """
    if day is None:
        return None
    try:
        start = timezone.make_aware(datetime.combine(day + timedelta(days=days_later), time.min))
        start.astimezone(UTC)  # how the database stores it
    except OverflowError:
        return None
    return start


class FavouriteAddForm(_FavouriteModelForm):
    """Add a favourite; a full list is a form error."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user, item = cleaned.get("user"), cleaned.get("item")
        if user is not None and item is not None:
            check_room(user.pk, adding=1)
        return cleaned


@admin.register(Favourite)
class FavouriteAdmin(StaffInputAdmin):
    """All listeners' favourites: add one, view, delete (one or many) through the write path."""

    form = FavouriteAddForm
    list_display = ("user", "item", "item_type", "added")
    list_filter = ("item__type", "added")
    list_select_related = ("user", "item")
    autocomplete_fields = ("item",)
    readonly_fields = ("added",)
    search_help_text = _("Listener's username or e-mail, item title, or exact item id.")
    show_full_result_count = False
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[Favourite]:
        return super().get_queryset(request).select_related("user", "item")

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # The user model's username and e-mail fields, whatever they are called.
        user_model = get_user_model()
        names = {field.name for field in user_model._meta.get_fields()}
        username, email = user_model.USERNAME_FIELD, user_model.get_email_field_name()
        users = [username] + ([email] if email in names and email != username else [])
        return (*(f"user__{name}" for name in users), "item__title", "=item__id")

    @admin.display(description=_("type"), ordering="item__type")
    def item_type(self, obj: Favourite) -> str:
        """The item's type, as the catalogue names it."""
        return obj.item.get_type_display()

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Users by autocomplete only where the site's user admin can search them.
        site, user_model = self.admin_site, get_user_model()
        searchable = site.is_registered(user_model) and site.get_model_admin(user_model)
        if searchable and searchable.get_search_fields(request):
            return ("user", "item")
        return ("item",)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        # Without a searchable user admin, an id box: never a dropdown of every user.
        if db_field.name == "user" and "user" not in self.get_autocomplete_fields(request):
            kwargs["widget"] = widgets.ForeignKeyRawIdWidget(
                db_field.remote_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Favourite | None = None) -> tuple[str, ...]:
        return ("user", "item") if obj is None else ("user", "item", "added")

    def has_change_permission(self, request: HttpRequest, obj: Favourite | None = None) -> bool:
        return False  # so Django shows a stored favourite read-only

    def save_model(self, request: HttpRequest, obj: Favourite, form: Any, change: bool) -> None:
        # Only an add gets here: without change permission there is no change form to save.
        # The model's save() adds through the write path.
        obj.save(source=services.Source.ADMIN)

    def delete_model(self, request: HttpRequest, obj: Favourite) -> None:
        obj.delete(source=services.Source.ADMIN)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Favourite]) -> None:
        # Each listener's favourites go in a transaction of their own (unless the site
        # sets ATOMIC_REQUESTS): selecting many listeners' rows never keeps their lists
        # locked together.
        services.remove_favourite_rows(queryset, source=services.Source.ADMIN, atomic=False)


class FavouriteInlineFormSet(_InlineFormSet):
    """One listener's favourites; saving removes, then adds, each in one service call."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        check_room(self.instance.pk, adding=len(self._adding()), removing=len(self._removing()))

    def save(self, commit: bool = True) -> list[Favourite]:
        """Apply the deletions and additions through the write path (always committed)."""
        if not commit:
            raise ValueError("Favourites are saved through dch_favourites.services only.")
        removing, adding = self._removing(), self._adding()
        self.changed_objects = []
        self.deleted_objects = [form.instance for form in removing]
        user = self.instance
        if removing:
            services.remove_favourites(
                user, [form.instance.item_id for form in removing], source=services.Source.ADMIN
            )
        item_ids = [form.cleaned_data["item"].pk for form in adding]
        if item_ids:
            services.add_favourites(user, item_ids, source=services.Source.ADMIN)
        self.new_objects = list(Favourite.objects.filter(user_id=user.pk, item_id__in=item_ids))
        return self.new_objects

    def _adding(self) -> list[Any]:
        deleted = self.deleted_forms
        return [form for form in self.extra_forms if form.has_changed() and form not in deleted]

    def _removing(self) -> list[Any]:
        return [form for form in self.deleted_forms if form.instance.pk is not None]


class FavouriteInline(_TabularInline):
    """A listener's favourites, newest first, on the user's change page: add and remove."""

    model = Favourite
    formset = FavouriteInlineFormSet
    fields = ("item", "added_at")
    readonly_fields = ("added_at",)
    autocomplete_fields = ("item",)
    extra = 1
    classes = ("dch-favourites-inline",)

    class Media:
        css = {"all": ("dch_favourites/admin/favourite-inline.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Favourite]:
        return super().get_queryset(request).select_related("item")

    @admin.display(description=_("added"))
    def added_at(self, obj: Favourite) -> str:
        """When the listener added it; nothing yet for the blank row."""
        if obj.pk is None:
            return self.get_empty_value_display()
        return display_for_value(obj.added, self.get_empty_value_display())

    def formfield_for_dbfield(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        # Pick an existing item; editing the catalogue from here is out of place.
        if formfield is not None and isinstance(
            formfield.widget, widgets.RelatedFieldWidgetWrapper
        ):
            wrapper = formfield.widget
            wrapper.can_add_related = wrapper.can_change_related = False
            wrapper.can_delete_related = wrapper.can_view_related = False
        return formfield

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Existing rows show read-only: a favourite is added or removed, never edited.
        return False


class UserFavouritesAdminMixin(StaffInputAdmin):
    """Mix into a user admin: adds :class:`FavouriteInline` to the user's change page."""

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[InlineModelAdmin[Any, Any]]]:
        inlines = [
            inline for inline in super().get_inlines(request, obj) if inline is not FavouriteInline
        ]
        # A user being added has no list yet.
        return inlines if obj is None else [*inlines, FavouriteInline]


def register_user_favourites(site: admin.AdminSite = admin.site) -> bool:
    """Extend the user admin registered on ``site`` with the favourites inline.

    Whatever ``ModelAdmin`` is registered for ``get_user_model()`` is subclassed with
    :class:`UserFavouritesAdminMixin` and registered again; its other options stay as they
    were. Returns ``False`` (and changes nothing) when no user admin is registered yet or it
    has the inline already.
    """
    user_model = get_user_model()
    if not site.is_registered(user_model):
        return False
    current = type(site.get_model_admin(user_model))
    if issubclass(current, UserFavouritesAdminMixin):
        return False
    extended = type(
        current.__name__,
        (UserFavouritesAdminMixin, current),
        {
            "__module__": current.__module__,
            "__doc__": current.__doc__,
            "inlines": [*current.inlines, FavouriteInline],
        },
    )
    site.unregister(user_model)
    site.register(user_model, extended)
    return True


@admin.register(Device)
class DeviceAdmin(StaffInputAdmin):
    """Read-only devices, with one action: disconnect (:meth:`Device.disconnect`)."""

    list_display = (
        "__str__",
        "application",
        "user",
        "app_version",
        "app_distributor",
        "affiliate",
        "last_seen",
        "disconnected",
    )
    list_filter = (("disconnected", admin.EmptyFieldListFilter), "application", "app_distributor")
    list_select_related = ("application", "user")
    search_fields = ("device_vendor", "device_model", "app_version", "affiliate")
    date_hierarchy = "last_seen"
    readonly_fields = (
        "application",
        "user",
        "app_version",
        "app_distributor",
        "device_vendor",
        "device_model",
        "affiliate",
        "created",
        "last_seen",
        "disconnected",
    )
    actions = ("disconnect_devices",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # devices come from the token endpoint only

    @admin.action(
        permissions=["change"], description=_("Disconnect selected devices (revoke their tokens)")
    )
    def disconnect_devices(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        """Disconnect each selected device; its tokens answer 401 from now on."""
        selected = list(queryset)
        devices, tokens = len(selected), sum(device.disconnect() for device in selected)
        disconnected = ngettext(
            "Disconnected %(count)d device.", "Disconnected %(count)d devices.", devices
        ) % {"count": devices}
        revoked = ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", tokens) % {
            "count": tokens
        }
        self.message_user(request, f"{disconnected} {revoked}", messages.SUCCESS)
