"""The auditors' filter: a date range, a branch, a person, an action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from audit.actions import action_choices
from core.digits import normalize_digits
from core.forms import DayField


class AuditFilterForm(forms.Form):
    since = DayField(label=_("From"), required=False)
    until = DayField(label=_("To"), required=False)
    branch = forms.CharField(
        label=_("Branch code"),
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
    actor = forms.CharField(
        label=_("Username"),
        required=False,
        max_length=150,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
    action = forms.ChoiceField(label=_("Action"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Any action")), *action_choices()]

    def clean_branch(self) -> str:
        return normalize_digits(self.cleaned_data["branch"]).strip().upper()

    def clean_actor(self) -> str:
        return self.cleaned_data["actor"].strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("The first day is after the last."))
        return data
