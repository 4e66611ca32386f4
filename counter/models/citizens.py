from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents.models import Branch, Governorate


class Citizen(models.Model):
    """A citizen known by national ID; their mobile is linked once verified by an SMS code."""

    class Sex(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")

    national_id = models.CharField(_("national ID"), max_length=14, unique=True)
    birth_date = models.DateField(_("birth date"))
    governorate = models.ForeignKey(
        Governorate, on_delete=models.PROTECT, related_name="+", verbose_name=_("governorate")
    )
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    name_ar = models.CharField(_("full name in Arabic"), max_length=150)
    name_en = models.CharField(_("full name in English"), max_length=150, blank=True)
    mobile = models.CharField(_("mobile (E.164)"), max_length=16, blank=True, db_index=True)
    mobile_verified_at = models.DateTimeField(_("mobile verified at"), null=True, blank=True)
    consent_at = models.DateTimeField(_("consent given at"))
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)
    registered_branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("registered at branch")
    )

    class Meta:
        verbose_name = _("citizen")
        verbose_name_plural = _("citizens")
        constraints = [
            models.CheckConstraint(
                condition=Q(national_id__regex=r"^[23][0-9]{13}$"), name="citizen_national_id_form"
            )
        ]

    def __str__(self) -> str:
        return self.name_ar

    @property
    def mobile_verified(self) -> bool:
        return self.mobile_verified_at is not None


class OtpChallenge(models.Model):
    """A one-time code sent by SMS to link a citizen to a mobile. Only its hash is kept."""

    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="challenges")
    mobile = models.CharField(max_length=16, db_index=True)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    burned = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")

    def __str__(self) -> str:
        return f"{self.mobile} @ {self.created_at:%Y-%m-%d %H:%M}"


class SmsMessage(models.Model):
    """The SMS outbox: every message the system sends, whatever the backend."""

    to = models.CharField(_("to"), max_length=16, db_index=True)
    body = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    backend = models.CharField(_("backend"), max_length=120, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS outbox")

    def __str__(self) -> str:
        return f"{self.to}: {self.body[:30]}"
