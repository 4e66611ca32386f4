"""What a service costs on a day, where each part of it is credited, and its reference fields.

These functions write nothing but the ledger accounts `component_account`
creates on first use; the payment services call them inside their own
transaction. The rules themselves (`quote_lines`, `component_agency`,
`component_account_key`) are pure functions of the objects they are given, so
that the national load-test seed (tools/national.py) prices and credits its
millions of rows through them rather than through a copy.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from agents.models import Branch
from core.digits import normalize_digits
from core.errors import InvalidAmount, InvalidState
from core.money import format_amount
from counter.models import Agency, FeeComponent, FeeSchedule, Service
from float_management.ledger import account_for
from float_management.models import Account, AccountKind

# Longer than any real bill or licence number; bounds the work a pattern typed
# in the admin can be made to do.
MAX_REFERENCE_LENGTH = 100

# A payment must cost few statements, so what a service costs on a day and its
# reference fields are kept in memory for a minute, and each (fee component,
# branch) → account id for good (accounts are never deleted). A schedule in
# force is read-only in the admin; any catalog save clears this process's cache
# (see counter.apps), other processes follow within TERMS_TTL.
TERMS_TTL = 60.0
_terms: dict[tuple[int, date], tuple[float, FeeSchedule, list]] = {}
_fields: dict[int, tuple[float, list]] = {}
_payable: dict[str, tuple[float, Service | None]] = {}
_account_ids: dict[tuple[int, int], int] = {}
# Ids cached by a transaction that has not committed yet: the account may be a row it
# made, which a rollback takes away (and SQLite gives its id to the next new row). A
# payment that fails forgets them (catalog_forget_uncommitted); a commit keeps them.
_uncommitted: set[tuple[int, int]] = set()


def catalog_cache_clear(**_kwargs: Any) -> None:
    _terms.clear()
    _fields.clear()
    _payable.clear()
    _account_ids.clear()
    _uncommitted.clear()


def catalog_forget_uncommitted() -> None:
    """Drop the account ids cached by transactions not known to have committed."""
    for key in list(_uncommitted):
        _account_ids.pop(key, None)
        _uncommitted.discard(key)


def _terms_of(service: Service, day: date) -> tuple[FeeSchedule, list]:
    """(schedule in force on `day`, its components), cached for TERMS_TTL."""
    key = (service.pk, day)
    now = time.monotonic()
    hit = _terms.get(key)
    if hit is not None and hit[0] > now:
        return hit[1], hit[2]
    schedule = schedule_at(service=service, day=day)
    components = list(schedule.components.select_related("agency").order_by("position", "pk"))
    _terms[key] = (now + TERMS_TTL, schedule, components)
    return schedule, components


def payable_service(code: str) -> Service | None:
    """The active service with this code (its agency read with it), cached for TERMS_TTL.

    Every request of a payment names its service; reading it (and its reference
    fields, `service_fields`) once a minute rather than on each request saves two
    statements a request. A service switched off stops being payable here at once
    and in the other processes within the minute, as its fees do. The instance is
    shared: callers read it and never change it.
    """
    now = time.monotonic()
    hit = _payable.get(code)
    if hit is not None and hit[0] > now:
        return hit[1]
    service = Service.objects.select_related("agency").filter(code=code, is_active=True).first()
    if len(_payable) > 10_000:  # codes typed into the address: never an unbounded cache
        _payable.clear()
    _payable[code] = (now + TERMS_TTL, service)
    return service


def service_fields(service: Service) -> list:
    """The service's reference fields in their order, cached for TERMS_TTL."""
    return _fields_of(service)


def _fields_of(service: Service) -> list:
    """The service's reference fields, cached for TERMS_TTL."""
    now = time.monotonic()
    hit = _fields.get(service.pk)
    if hit is not None and hit[0] > now:
        return hit[1]
    fields = list(service.reference_fields.all())
    _fields[service.pk] = (now + TERMS_TTL, fields)
    return fields


def schedule_at(*, service: Service, day: date) -> FeeSchedule:
    """The schedule in force on `day`: the one with the latest start on or before it."""
    schedule = service.schedules.filter(effective_from__lte=day).order_by("-effective_from").first()
    if schedule is None:
        raise InvalidState(_("This service has no fees in force on that day."))
    return schedule


@dataclass(frozen=True)
class Quote:
    """What the citizen pays for a service on a day, line by line (piastres)."""

    service: Service
    schedule: FeeSchedule
    lines: tuple[tuple[FeeComponent, int], ...]
    total: int


def _check_amount(*, service: Service, amount: int | None) -> None:
    if service.amount_kind == Service.AmountKind.FIXED:
        if amount is not None:
            raise InvalidAmount(_("This service has fixed fees: no amount is typed for it."))
        return
    if amount is None:
        raise InvalidAmount(_("Type the amount due for this service."))
    if type(amount) is not int:  # refuses bool, float, Decimal, str
        raise InvalidAmount(_("Amounts are whole piastres."))
    if not service.min_amount <= amount <= service.max_amount:
        raise InvalidAmount(
            _("The amount due must be between %(min)s and %(max)s EGP.")
            % {"min": format_amount(service.min_amount), "max": format_amount(service.max_amount)}
        )


def service_quote(*, service: Service, amount: int | None, day: date) -> Quote:
    """The lines and total of `service` on `day`; `amount` is the typed amount due, if variable.

    Refuses an inactive service or agency (including an agency a fee is paid
    to) and a catalog whose schedule does not fit the service's kind, rather
    than charge a wrong total.
    """
    if not service.is_active:
        raise InvalidState(_("This service is no longer offered."))
    if not service.agency.is_active:
        raise InvalidState(
            _("%(agency)s is not taking payments at the moment.") % {"agency": service.agency.name}
        )
    _check_amount(service=service, amount=amount)
    schedule, components = _terms_of(service, day)
    lines = quote_lines(service=service, components=components, amount=amount)
    return Quote(
        service=service,
        schedule=schedule,
        lines=lines,
        total=sum(line for _component, line in lines),
    )


def quote_lines(
    *, service: Service, components: Sequence[FeeComponent], amount: int | None
) -> tuple[tuple[FeeComponent, int], ...]:
    """Each of `components` (a schedule of `service`, in order) with what it costs.

    The principal costs `amount`, the amount due typed for a variable service;
    every other part its fixed amount. No query when the components' agencies
    are loaded. Refuses a schedule that does not fit the service's kind and a
    fee paid to an agency that is not taking payments; `service_quote` checks
    the service and the amount before it.
    """
    principals = [c for c in components if c.kind == FeeComponent.Kind.PRINCIPAL]
    expected_principals = 1 if service.amount_kind == Service.AmountKind.VARIABLE else 0
    if not components or len(principals) != expected_principals:
        raise InvalidState(
            _("The fees of this service are not set up correctly; ask head office to fix them.")
        )
    for component in components:
        if component.agency_id is not None and not component.agency.is_active:
            raise InvalidState(
                _("%(agency)s is not taking payments at the moment.")
                % {"agency": component.agency.name}
            )
    return tuple(
        (component, amount if component.kind == FeeComponent.Kind.PRINCIPAL else component.amount)
        for component in components
    )


def component_agency_id(component: FeeComponent, service: Service) -> int | None:
    """The id of the agency owed `component` of `service`: its own if it names one, else the
    service's. None for commission, the network's own revenue. Reads no row."""
    if component.kind == FeeComponent.Kind.COMMISSION:
        return None
    return component.agency_id if component.agency_id is not None else service.agency_id


def component_agency(component: FeeComponent, service: Service) -> Agency | None:
    """The agency owed `component` of `service` (component_agency_id's, as a row)."""
    agency_id = component_agency_id(component, service)
    if agency_id is None:
        return None
    return component.agency if agency_id == component.agency_id else service.agency


def component_account_key(
    component: FeeComponent, service: Service, branch: Branch
) -> tuple[AccountKind, str]:
    """The kind and key of the account credited with `component` when `service` is paid at `branch`.

    Commission is the network's own revenue; every other part is owed to its
    agency, per service item. Both are kept per branch: an account every branch
    credited would be one row that every payment in the nation locks.
    """
    agency = component_agency(component, service)
    if agency is None:
        return AccountKind.COMMISSION, f"commission:{component.code}:{branch.code}"
    return (
        AccountKind.PAYABLE,
        f"payable:{agency.code}:{service.code}:{component.code}:{branch.code}",
    )


def component_account(component: FeeComponent, service: Service, branch: Branch) -> Account:
    """The ledger account credited with `component` when `service` is paid at `branch`.

    Made on first use; its kind and key are `component_account_key`'s.
    """
    if component.schedule.service_id != service.pk:
        raise InvalidState(_("This fee does not belong to this service."))
    kind, key = component_account_key(component, service, branch)
    return account_for(kind, key, branch=branch)


def component_account_id(component: FeeComponent, service: Service, branch: Branch) -> int:
    """component_account's id, from memory after the first time (no query on the hot path)."""
    key = (component.pk, branch.pk)
    if key not in _account_ids:
        _account_ids[key] = component_account(component, service, branch).pk
        _uncommitted.add(key)
        transaction.on_commit(lambda: _uncommitted.discard(key))
    return _account_ids[key]


def references_clean(*, service: Service, data: Mapping[str, str]) -> dict[str, str]:
    """The service's reference fields from `data`, cleaned and keyed by code.

    Digits typed in Arabic are normalised first. Raises ValidationError with
    one message per bad field (keyed by its code); keys of `data` that are not
    fields of the service are ignored. Optional fields left empty are left out.
    """
    cleaned: dict[str, str] = {}
    errors: dict[str, ValidationError] = {}
    for field in _fields_of(service):
        value = normalize_digits(str(data.get(field.code) or "")).strip()
        if not value:
            if field.required:
                errors[field.code] = ValidationError(
                    _("%(label)s is required.") % {"label": field.label}, code="required"
                )
            continue
        try:
            pattern = re.compile(field.pattern)  # the re module caches compiled patterns
        except re.error:
            raise InvalidState(
                _("The %(label)s check is broken; ask head office to fix it.")
                % {"label": field.label}
            ) from None
        if len(value) > MAX_REFERENCE_LENGTH or not pattern.fullmatch(value):
            message = _("%(label)s is not valid.") % {"label": field.label}
            if field.hint:
                message = f"{message} {field.hint}"
            errors[field.code] = ValidationError(message, code="invalid")
            continue
        cleaned[field.code] = value
    if errors:
        raise ValidationError(errors)
    return cleaned
