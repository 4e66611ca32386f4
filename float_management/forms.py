from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from agents.fields import NumberField
from agents.models import Counter
from core.money import parse_amount
from float_management.models import ACTIVE_STATUSES, Denomination

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

    from agents.models import Branch


class MoneyField(forms.CharField):
    """An amount typed in pounds (any digits), cleaned to int piastres, more than zero."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Amount (EGP)"))
        kwargs.setdefault("max_length", 24)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off", "dir": "ltr"})

    def clean(self, value: Any) -> int | None:
        text = super().clean(value)
        if text in self.empty_values:
            return None  # only reached when the field is optional
        amount = parse_amount(text)
        if amount <= 0:
            raise forms.ValidationError(_("The amount must be more than zero."), code="zero")
        return amount


class KeyedForm(forms.Form):
    """A form that carries the idempotency key made when it was rendered."""

    idempotency_key = forms.RegexField(
        regex=r"^[0-9a-f]{32}$",
        widget=forms.HiddenInput,
        error_messages={"invalid": _("This form has expired; open it again.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)


class OpenSessionForm(KeyedForm):
    counter = forms.ModelChoiceField(queryset=Counter.objects.none(), label=_("Counter"))
    amount = MoneyField(label=_("Opening float (EGP)"))

    def __init__(self, *args: Any, branch: Branch | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["counter"].queryset = (
            Counter.objects.filter(branch=branch, is_active=True)
            .exclude(sessions__status__in=ACTIVE_STATUSES)
            .select_related("branch")
        )

    def preselect(self, last_counter: Counter | None) -> None:
        """Start the list at the agent's own counter rather than at "---------".

        Their own is the one they last worked at, if it is free; else the branch's
        only free counter. With several free and none theirs, the agent chooses.
        """
        free = list(self.fields["counter"].queryset)
        if last_counter is not None and any(c.pk == last_counter.pk for c in free):
            self.initial["counter"] = last_counter.pk
        elif len(free) == 1:
            self.initial["counter"] = free[0].pk


class AmountForm(KeyedForm):
    amount = MoneyField()


class CountForm(KeyedForm):
    """The blind count: one whole-number field per active denomination."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.denominations = list(Denomination.objects.filter(is_active=True))
        for d in self.denominations:
            field = NumberField(min_value=0, max_value=100_000, required=False, label=str(d))
            field.widget.attrs.update(
                {"inputmode": "numeric", "dir": "ltr", "data-value": d.value, "class": "count"}
            )
            self.fields[f"d{d.pk}"] = field

    def counts(self) -> dict[int, int]:
        return {d.pk: self.cleaned_data.get(f"d{d.pk}") or 0 for d in self.denominations}

    def rows(self) -> list[tuple[Denomination, forms.BoundField]]:
        return [(d, self[f"d{d.pk}"]) for d in self.denominations]


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    reason = forms.CharField(max_length=200, required=False, label=_("Reason"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give a reason for the rejection."))
        return data


class VaultMoveForm(KeyedForm):
    direction = forms.ChoiceField(
        choices=[("in", _("From the bank")), ("out", _("To the bank"))], label=_("Direction")
    )
    amount = MoneyField()
    witness = forms.ModelChoiceField(queryset=None, label=_("Witness"))

    def __init__(self, *args: Any, witnesses: QuerySet[User] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["witness"].queryset = witnesses
