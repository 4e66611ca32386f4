"""Admin: the catalog, kept by head office.

A fee schedule that is in force (or was) is read-only: a fee change is a new
schedule from a date, so what past payments were charged never changes. So
are a paid service's code and agency and a paid agency's code: a change is a
new service or agency.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.clock import local_today
from core.money import format_amount
from counter.models import Agency, FeeComponent, FeeSchedule, ReferenceField, Service
from counter.models.catalog import AGENCY_CODE_FIXED, SERVICE_FIXED

if TYPE_CHECKING:
    from collections.abc import Sequence

    from django.db.models import QuerySet
    from django.http import HttpRequest, HttpResponse


def _is_future(schedule: FeeSchedule | None) -> bool:
    """New schedules, and those that start after today, may still be edited."""
    return schedule is None or schedule.effective_from > local_today()


class PaidKeepsItsIdentity:
    """Fields a payment recorded are read-only once it has, with the reason above the form.

    (The models' clean refuses the change too: this only shows it.)
    """

    paid_readonly_fields: tuple[str, ...] = ()
    paid_message = ""

    def get_readonly_fields(
        self, request: HttpRequest, obj: Agency | Service | None = None
    ) -> Sequence[str]:
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.has_been_paid:
            return [*fields, *self.paid_readonly_fields]
        return fields

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if request.method == "GET" and obj is not None and obj.has_been_paid:
            self.message_user(request, self.paid_message, messages.INFO)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Agency)
class AgencyAdmin(PaidKeepsItsIdentity, admin.ModelAdmin):
    list_display = ["code", "name_ar", "name_en", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name_ar", "name_en"]
    paid_readonly_fields = ("code",)
    paid_message = AGENCY_CODE_FIXED


class ReferenceFieldForm(forms.ModelForm):
    class Meta:
        model = ReferenceField
        fields = [
            "position",
            "code",
            "label_ar",
            "label_en",
            "pattern",
            "hint_ar",
            "hint_en",
            "required",
        ]

    def clean_pattern(self) -> str:
        pattern = self.cleaned_data["pattern"]
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValidationError(
                _("This is not a valid regular expression: %(error)s"), params={"error": error}
            ) from None
        return pattern


class ReferenceFieldInline(admin.TabularInline):
    model = ReferenceField
    form = ReferenceFieldForm
    extra = 0


class FeeScheduleInline(admin.TabularInline):
    """The service's fee history, newest first; schedules are added on their own page."""

    model = FeeSchedule
    extra = 0
    fields = ["effective_from"]
    readonly_fields = ["effective_from"]
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Service | None = None) -> bool:
        return False


@admin.register(Service)
class ServiceAdmin(PaidKeepsItsIdentity, admin.ModelAdmin):
    list_display = [
        "code",
        "name_ar",
        "name_en",
        "agency",
        "amount_kind",
        "budget_item",
        "requires_citizen",
        "is_active",
    ]
    list_filter = ["agency", "is_active", "amount_kind", "requires_citizen"]
    search_fields = ["code", "name_ar", "name_en", "budget_item"]
    list_select_related = ["agency"]
    autocomplete_fields = ["agency"]
    inlines = [ReferenceFieldInline, FeeScheduleInline]
    paid_readonly_fields = ("code", "agency")
    paid_message = SERVICE_FIXED


class FeeComponentFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kinds = [
            form.cleaned_data["kind"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if not kinds:
            raise ValidationError(_("A fee schedule needs at least one fee."))
        service_id = self.instance.service_id
        if service_id is None:
            return  # the schedule's own form reports the missing service
        variable = (
            Service.objects.filter(pk=service_id).values_list("amount_kind", flat=True).get()
            == Service.AmountKind.VARIABLE
        )
        principals = kinds.count(FeeComponent.Kind.PRINCIPAL)
        if variable and principals != 1:
            raise ValidationError(
                _("A variable service needs exactly one “amount due” line, with no amount.")
            )
        if not variable and principals:
            raise ValidationError(_("A fixed service has no “amount due” line: only fees."))


class FeeComponentInline(admin.TabularInline):
    model = FeeComponent
    formset = FeeComponentFormSet
    extra = 0
    fields = ["position", "code", "kind", "name_ar", "name_en", "amount", "agency"]
    autocomplete_fields = ["agency"]

    def has_add_permission(self, request: HttpRequest, obj: FeeSchedule | None = None) -> bool:
        return _is_future(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: FeeSchedule | None = None) -> bool:
        return _is_future(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: FeeSchedule | None = None) -> bool:
        return _is_future(obj) and super().has_delete_permission(request, obj)


class FeeScheduleForm(forms.ModelForm):
    class Meta:
        model = FeeSchedule
        fields = ["service", "effective_from"]

    def clean(self) -> dict:
        cleaned = super().clean()
        service, start = cleaned.get("service"), cleaned.get("effective_from")
        if service is None or start is None or start >= local_today():
            return cleaned
        # A service's first schedule may start in the past: nothing was sold under it yet.
        if service.schedules.exclude(pk=self.instance.pk).exists():
            self.add_error(
                "effective_from",
                _("A fee change starts today or later: past days keep the fees they had."),
            )
        return cleaned


@admin.register(FeeSchedule)
class FeeScheduleAdmin(admin.ModelAdmin):
    form = FeeScheduleForm
    list_display = ["service", "effective_from", "fixed_fees"]
    list_filter = ["service__agency", "effective_from"]
    search_fields = ["service__code", "service__name_ar", "service__name_en"]
    list_select_related = ["service"]
    autocomplete_fields = ["service"]
    date_hierarchy = "effective_from"
    inlines = [FeeComponentInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[FeeSchedule]:
        return super().get_queryset(request).prefetch_related("components")

    @admin.display(description=_("fixed fees (EGP)"))
    def fixed_fees(self, obj: FeeSchedule) -> str:
        return format_amount(sum(c.amount or 0 for c in obj.components.all()))

    def has_change_permission(self, request: HttpRequest, obj: FeeSchedule | None = None) -> bool:
        return _is_future(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: FeeSchedule | None = None) -> bool:
        return _is_future(obj) and super().has_delete_permission(request, obj)
