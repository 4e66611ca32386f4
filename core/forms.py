"""Form fields every app may use."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.digits import normalize_digits


class DayField(forms.DateField):
    """A calendar day, YYYY-MM-DD, typed in any digits (the browser's date picker sends ISO).

    Only days of this century: the pages that take a day compute the next one and its
    bounds in Cairo and UTC, which overflow at the ends of the calendar (9999-12-31).
    """

    FIRST = date(2000, 1, 1)
    LAST = date(2099, 12, 31)
    widget = forms.DateInput(attrs={"type": "date", "dir": "ltr"}, format="%Y-%m-%d")
    default_error_messages = {  # merged with DateField's by Django
        "invalid": _("Enter a day as YYYY-MM-DD, like 2026-03-15."),
        "out_of_range": _("Enter a day between %(first)s and %(last)s."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> date | None:
        if isinstance(value, str):
            value = normalize_digits(value).strip()
        return super().to_python(value)

    def validate(self, value: date | None) -> None:
        super().validate(value)
        if value is not None and not self.FIRST <= value <= self.LAST:
            raise forms.ValidationError(
                self.error_messages["out_of_range"],
                code="out_of_range",
                params={"first": self.FIRST.isoformat(), "last": self.LAST.isoformat()},
            )

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        # The date picker offers only the days the field takes.
        return {
            **super().widget_attrs(widget),
            "min": self.FIRST.isoformat(),
            "max": self.LAST.isoformat(),
        }
