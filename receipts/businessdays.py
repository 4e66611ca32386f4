"""Egyptian business days: the weekend is Friday and Saturday; holidays are PublicHoliday rows.

Days are Africa/Cairo calendar days whatever the server's time zone is: a
payment belongs to the day on which the citizen paid at the counter.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from receipts.models import PublicHoliday

CAIRO = ZoneInfo("Africa/Cairo")
WEEKEND = frozenset({4, 5})  # date.weekday(): Friday, Saturday
SETTLEMENT_LAG = 2  # business days from the day collected to the value date


def local_today() -> date:
    """Today in Cairo."""
    return timezone.localdate(timezone=CAIRO)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The aware instants [start, end) of `day` in Cairo.

    Computed from each day's own midnight, so a daylight-saving change (Egypt
    moves its clocks at midnight) neither loses nor doubles an hour.
    """
    start = datetime.combine(day, time.min, tzinfo=CAIRO)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=CAIRO)
    return start, end


def _holidays_between(first: date, last: date) -> set[date]:
    return set(
        PublicHoliday.objects.filter(date__range=(first, last)).values_list("date", flat=True)
    )


def is_business_day(day: date) -> bool:
    """Neither Friday, Saturday nor a public holiday."""
    if day.weekday() in WEEKEND:
        return False
    return not PublicHoliday.objects.filter(date=day).exists()


def add_business_days(day: date, n: int) -> date:
    """The n-th business day after `day` (before it when n is negative); `day` itself if n is 0.

    `day` need not be a business day: Friday + 1 is Sunday. Holidays are read
    in windows, one query per window, not one per day.
    """
    if n == 0:
        return day
    step = 1 if n > 0 else -1
    remaining = abs(n)
    current = day
    # Two weeks per business day wanted covers any run of Egyptian holidays
    # (the longest, Eid al-Adha, is under a week); if not, read the next window.
    window = timedelta(days=14 * remaining)
    while True:
        edge = current + step * window
        holidays = _holidays_between(min(current, edge), max(current, edge))
        while current != edge:
            current += timedelta(days=step)
            if current.weekday() not in WEEKEND and current not in holidays:
                remaining -= 1
                if remaining == 0:
                    return current


def value_date_for(business_day: date) -> date:
    """When an agency is paid for what was collected on `business_day`: two business days later."""
    return add_business_days(business_day, SETTLEMENT_LAG)
