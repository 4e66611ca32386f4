"""Reads of the service catalog: the counter's type-ahead search and one service by code.

Search folds Arabic spelling variants (hamza on alef, taa marbuta, alef
maqsura, tashkeel) so that "اشغالات" finds "إشغالات". Folding in SQL would
need a different function on SQLite and PostgreSQL, or a stored folded column
kept in step with every edit; the catalog is a few hundred services, so the
active ones are read in one query and matched in Python instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from datetime import date

from django.db.models import Exists, OuterRef

from core.digits import normalize_digits
from counter.models import FeeComponent, FeeSchedule, Service

_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ة": "ه",
        "ى": "ي",
        "ؤ": "و",
        "ئ": "ي",
        "ـ": None,  # tatweel, the stretching stroke
    }
)
# Tashkeel (fathatan … sukun), the superscript alef.
_MARKS = re.compile("[\u064b-\u0652\u0670]")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """`text` lower-cased with Arabic spelling variants and digits brought to one form."""
    text = unicodedata.normalize("NFKC", text)
    text = _MARKS.sub("", text).translate(_FOLD)
    return _SPACES.sub(" ", normalize_digits(text).casefold()).strip()


def _rank(service: Service, folded_query: str) -> tuple[int, str]:
    code = fold(service.code)
    if code == folded_query:
        return (0, service.code)
    if code.startswith(folded_query):
        return (1, service.code)
    if fold(service.name_ar).startswith(folded_query) or fold(service.name_en).startswith(
        folded_query
    ):
        return (2, service.code)
    return (3, service.code)


def _with_fees_total(services: list[Service], *, day: date) -> list[Service]:
    """Set `fees_total` on each service: the sum of the fixed fees in force on `day`.

    For a fixed service it is what the citizen pays; for a variable one, what
    is added to the amount due.
    """
    schedules = FeeSchedule.objects.filter(service__in=services, effective_from__lte=day).order_by(
        "service", "-effective_from"
    )
    in_force: dict[int, int] = {}
    for service_id, schedule_id in schedules.values_list("service", "pk"):
        in_force.setdefault(service_id, schedule_id)
    totals: dict[int, int] = defaultdict(int)
    amounts = FeeComponent.objects.filter(
        schedule__in=in_force.values(), amount__isnull=False
    ).values_list("schedule", "amount")
    for schedule_id, amount in amounts:
        totals[schedule_id] += amount
    for service in services:
        service.fees_total = totals[in_force[service.pk]]
    return services


def services_search(query: str, *, day: date, limit: int = 10) -> list[Service]:
    """Services an agent can sell on `day` whose name (Arabic or English) or code match `query`.

    Every word of the query must appear; exact and leading code matches come
    first, then names that start with the query, then the rest, each by code.
    An empty query gives the first `limit` services by code. Each service has
    its agency loaded and `fees_total` set (see `_with_fees_total`).
    Three queries, whatever the size of the catalog.
    """
    sellable = (
        Service.objects.filter(is_active=True, agency__is_active=True)
        .filter(Exists(FeeSchedule.objects.filter(service=OuterRef("pk"), effective_from__lte=day)))
        .select_related("agency")
        .order_by("code")
    )
    folded_query = fold(query)
    if not folded_query:
        return _with_fees_total(list(sellable[:limit]), day=day)
    words = folded_query.split(" ")
    matches = []
    for service in sellable:
        haystack = fold(f"{service.code} {service.name_ar} {service.name_en}")
        if all(word in haystack for word in words):
            matches.append(service)
    matches.sort(key=lambda service: _rank(service, folded_query))
    return _with_fees_total(matches[:limit], day=day)


def service_by_code(code: str) -> Service | None:
    """The service with this code (active or not: the quote says why it can't be sold)."""
    return (
        Service.objects.select_related("agency")
        .prefetch_related("reference_fields")
        .filter(code=code)
        .first()
    )
