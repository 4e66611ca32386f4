"""The postal network (governorates, branches, counters) and its people."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class BilingualName(models.Model):
    name_ar = models.CharField(_("Arabic name"), max_length=120)
    name_en = models.CharField(_("English name"), max_length=120)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the active language (Arabic unless English is chosen)."""
        return self.name_en if (get_language() or "ar").startswith("en") else self.name_ar


class Governorate(BilingualName):
    code = models.CharField(_("code"), max_length=2, unique=True)
    # 88 appears in national IDs (born abroad) but has no post offices.
    abroad = models.BooleanField(_("born abroad (no branches)"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("governorate")
        verbose_name_plural = _("governorates")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^[0-9]{2}$"), name="governorate_code_two_digits"
            )
        ]


class Branch(BilingualName):
    code = models.CharField(_("code"), max_length=12, unique=True)
    governorate = models.ForeignKey(
        Governorate,
        on_delete=models.PROTECT,
        related_name="branches",
        limit_choices_to={"abroad": False},
        verbose_name=_("governorate"),
    )
    till_cash_limit = models.BigIntegerField(
        _("till cash limit (piastres)"),
        default=5_000_000,
        help_text=_("The most cash one till may hold; a warning shows at 80%."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(till_cash_limit__gt=0), name="branch_till_limit_positive"
            )
        ]


class Counter(models.Model):
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="counters", verbose_name=_("branch")
    )
    number = models.PositiveSmallIntegerField(_("number"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["branch__code", "number"]
        verbose_name = _("counter")
        verbose_name_plural = _("counters")
        constraints = [
            models.UniqueConstraint(fields=["branch", "number"], name="counter_number_per_branch"),
            models.CheckConstraint(
                condition=models.Q(number__gt=0), name="counter_number_positive"
            ),
        ]

    def __str__(self) -> str:
        return _("%(branch)s – counter %(number)s") % {"branch": self.branch, "number": self.number}


class Role(models.TextChoices):
    AGENT = "agent", _("Counter agent")
    BRANCH_SUPERVISOR = "branch_supervisor", _("Branch supervisor")
    REGIONAL_SUPERVISOR = "regional_supervisor", _("Regional supervisor")
    HEAD_OFFICE = "head_office", _("Head office")
    AUDITOR = "auditor", _("Auditor")


BRANCH_ROLES = (Role.AGENT, Role.BRANCH_SUPERVISOR)
SUPERVISOR_ROLES = (Role.BRANCH_SUPERVISOR, Role.REGIONAL_SUPERVISOR, Role.HEAD_OFFICE)


class Profile(models.Model):
    """A person's one role and the part of the network it covers."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    role = models.CharField(_("role"), max_length=24, choices=Role.choices)
    branch = models.ForeignKey(
        Branch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("branch"),
    )
    governorate = models.ForeignKey(
        Governorate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="regional_staff",
        verbose_name=_("governorate"),
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        constraints = [
            # The scope must fit the role: a branch for branch staff, a
            # governorate for regional supervisors, nothing for national roles.
            models.CheckConstraint(
                condition=(
                    models.Q(
                        role__in=[r.value for r in BRANCH_ROLES],
                        branch__isnull=False,
                        governorate__isnull=True,
                    )
                    | models.Q(
                        role=Role.REGIONAL_SUPERVISOR.value,
                        branch__isnull=True,
                        governorate__isnull=False,
                    )
                    | models.Q(
                        role__in=[Role.HEAD_OFFICE.value, Role.AUDITOR.value],
                        branch__isnull=True,
                        governorate__isnull=True,
                    )
                ),
                name="profile_scope_fits_role",
                violation_error_message=_(
                    "Agents and branch supervisors need a branch; regional supervisors a "
                    "governorate; head office and auditors neither."
                ),
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.user.get_full_name() or self.user.get_username()} ({self.get_role_display()})"
        )
