"""The one clock: today, the bounds of a day, and Egyptian business days.

A day is a calendar day in settings.TIME_ZONE (Africa/Cairo, fixed in settings, not
taken from the environment): a payment belongs to the day on which the citizen paid at
the counter. Every "today" and every day's bounds in the product come from here, so a
board, a report, a settlement and a till agree on which day it is.

Business days: the weekend is Friday and Saturday; holidays are PublicHoliday rows.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from django.utils import timezone

from core.models import PublicHoliday

WEEKEND = frozenset({4, 5})  # date.weekday(): Friday, Saturday
SETTLEMENT_LAG = 2  # business days from the day collected to the value date


def zone() -> tzinfo:
    """The zone every calendar day of the product is counted in."""
    return timezone.get_default_timezone()


def local_now() -> datetime:
    """Now, as the counter's wall clock shows it."""
    return timezone.localtime(timezone.now(), zone())


def local_today() -> date:
    """Today at the counter."""
    return timezone.localdate(timezone=zone())


def local_time(moment: datetime) -> datetime:
    """An aware instant as the counter's wall clock shows it."""
    return timezone.localtime(moment, zone())


def local_day(moment: datetime) -> date:
    """The counter's calendar day of an aware instant."""
    return timezone.localdate(moment, timezone=zone())


def start_of_today() -> datetime:
    """The aware instant today began at the counter."""
    return day_bounds(local_today())[0]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The aware instants [start, end) of `day` at the counter.

    Computed from each day's own midnight, so a daylight-saving change (Egypt
    moves its clocks at midnight) neither loses nor doubles an hour.
    """
    start = datetime.combine(day, time.min, tzinfo=zone())
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone())
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
