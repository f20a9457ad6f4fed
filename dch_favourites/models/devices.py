"""Devices: app installations that signed in like the original service's apps."""

from __future__ import annotations

from django.conf import settings
from django.db import models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import get_access_token_model, revoke_access_token
from oauth2_provider.settings import oauth2_settings

#: Longest description of itself an app may send, per field.
FIELD_LENGTH = 100


class Device(models.Model):
    """An app installation that got a device token (``grant_type=device``): what the app said
    about itself, the listener who last signed in on it and (:class:`DeviceToken`) its tokens.
    """

    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="dch_devices",
        verbose_name=_("application"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dch_devices",
        verbose_name=_("listener"),
        help_text=_("Who last signed in on the device."),
    )
    app_version = models.CharField(_("app version"), max_length=FIELD_LENGTH, blank=True)
    app_distributor = models.CharField(_("app distributor"), max_length=FIELD_LENGTH, blank=True)
    device_vendor = models.CharField(_("device vendor"), max_length=FIELD_LENGTH, blank=True)
    device_model = models.CharField(_("device model"), max_length=FIELD_LENGTH, blank=True)
    affiliate = models.CharField(_("affiliate"), max_length=FIELD_LENGTH, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    disconnected = models.DateTimeField(_("disconnected"), null=True, blank=True)
    # SHA-256 of the device's own refresh token; its device tokens have no user, which
    # django-oauth-toolkit's RefreshToken requires.
    refresh_token_checksum = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ("-last_seen", "-id")
        indexes = [models.Index(fields=["refresh_token_checksum"], name="dch_device_refresh_idx")]

    def __str__(self) -> str:
        described = " ".join(part for part in (self.device_vendor, self.device_model) if part)
        return f"{described or _('device')} #{self.pk}"

    def disconnect(self) -> int:
        """Revoke every token issued through the device (with django-oauth-toolkit's
        ``revoke_access_token``, refresh tokens too) and mark it ``disconnected`` for good, in
        one transaction; how many."""
        token_model = get_access_token_model()
        with transaction.atomic(using=router.db_for_write(token_model)):
            locked = type(self).objects.select_for_update().get(pk=self.pk)
            tokens = list(token_model.objects.filter(dch_device_link__device=locked))
            for token in tokens:
                revoke_access_token(token)
            locked.disconnected = self.disconnected = locked.disconnected or timezone.now()
            locked.refresh_token_checksum = self.refresh_token_checksum = ""
            locked.save(update_fields=["disconnected", "refresh_token_checksum"])
        return len(tokens)


class DeviceToken(models.Model):
    """Links an access token to the device it was issued through (one device per token)."""

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("device")
    )
    access_token = models.OneToOneField(
        oauth2_settings.ACCESS_TOKEN_MODEL,
        on_delete=models.CASCADE,
        related_name="dch_device_link",
        verbose_name=_("access token"),
    )

    class Meta:
        verbose_name = _("device token")
        verbose_name_plural = _("device tokens")

    def __str__(self) -> str:
        return f"{self.device} / {self.access_token_id}"
