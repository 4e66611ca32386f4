"""Reading citizens: citizens are national, so any agent may find any of them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from counter.models import Citizen, OtpChallenge
from counter.nationalid import LENGTH, normalize_national_id
from counter.phones import parse_egyptian_mobile

SEARCH_LIMIT = 10


def _citizens() -> QuerySet[Citizen]:
    return Citizen.objects.select_related("governorate", "registered_branch")


def citizen_search(query: str) -> QuerySet[Citizen]:
    """Citizens whose national ID is exactly `query` (14 digits), or whose verified mobile it is.

    Any digits, spaces and dashes; a mobile in any form parse_egyptian_mobile
    accepts. Anything else finds nobody. At most SEARCH_LIMIT citizens (a
    family may share one mobile).
    """
    compact = normalize_national_id(query)
    if len(compact) == LENGTH and compact.isascii() and compact.isdigit():
        return _citizens().filter(national_id=compact)
    try:
        mobile = parse_egyptian_mobile(query)
    except ValidationError:
        return Citizen.objects.none()
    return _citizens().filter(mobile=mobile).order_by("name_ar", "pk")[:SEARCH_LIMIT]


def citizen_detail(pk: int) -> Citizen:
    """The citizen with everything their page shows; Citizen.DoesNotExist if none."""
    return _citizens().select_related("registered_by").get(pk=pk)


def citizen_row(pk: int) -> Citizen:
    """The citizen's own row, nothing joined (what a payment and its receipt name)."""
    return Citizen.objects.get(pk=pk)


def otp_pending_for(citizen: Citizen) -> OtpChallenge | None:
    """The citizen's latest code if it may still be typed in (not used, not burned)."""
    latest = citizen.challenges.order_by("-created_at", "-pk").first()
    if latest is None or latest.verified_at is not None or latest.burned:
        return None
    return latest
