"""The form of the report pages."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from core.clock import local_today
from core.forms import DayField


class ReportDayForm(forms.Form):
    """The day a daily report covers; today (in Cairo) when none is given."""

    day = DayField(label=_("Day"), required=False)

    def clean_day(self) -> date:
        return self.cleaned_data.get("day") or local_today()
