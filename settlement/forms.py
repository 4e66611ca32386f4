"""The form of the settlement page."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from core.clock import local_today
from core.forms import DayField


class SettlementRunForm(forms.Form):
    business_day = DayField(label=_("Business day to settle"))

    def clean_business_day(self) -> date:
        day = self.cleaned_data["business_day"]
        if day >= local_today():
            raise forms.ValidationError(
                _("A day is settled once it is over: choose a day before today.")
            )
        return day
