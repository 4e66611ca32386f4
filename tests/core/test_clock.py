"""Egyptian business days: Friday and Saturday off, public holidays from the table."""

from datetime import UTC, date, datetime, timedelta

import pytest

from core.clock import (
    add_business_days,
    day_bounds,
    is_business_day,
    value_date_for,
    zone,
)
from core.models import PublicHoliday

pytestmark = pytest.mark.django_db

SUN, MON, TUE, WED, THU, FRI, SAT = (date(2026, 3, d) for d in range(8, 15))
NEXT_SUN, NEXT_MON, NEXT_TUE = date(2026, 3, 15), date(2026, 3, 16), date(2026, 3, 17)


def _holiday(day: date) -> PublicHoliday:
    return PublicHoliday.objects.create(date=day, name_ar="عطلة", name_en="Holiday")


def test_friday_and_saturday_are_not_business_days():
    assert [is_business_day(d) for d in (SUN, MON, TUE, WED, THU, FRI, SAT)] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_a_public_holiday_is_not_a_business_day():
    _holiday(TUE)
    assert not is_business_day(TUE)
    assert is_business_day(WED)


def test_two_business_days_after_thursday_is_monday():
    assert value_date_for(THU) == NEXT_MON


def test_a_sunday_holiday_pushes_thursday_plus_two_to_tuesday():
    _holiday(NEXT_SUN)
    assert value_date_for(THU) == NEXT_TUE


def test_a_weekend_day_counts_from_the_next_business_day():
    assert add_business_days(FRI, 1) == NEXT_SUN
    assert add_business_days(SAT, 2) == NEXT_MON


def test_midweek_days_simply_add():
    assert value_date_for(MON) == WED
    assert add_business_days(MON, 0) == MON


def test_negative_counts_go_back_over_the_weekend():
    assert add_business_days(NEXT_SUN, -1) == THU
    _holiday(THU)
    assert add_business_days(NEXT_SUN, -1) == WED


def test_a_long_run_of_holidays_is_crossed_with_few_queries(django_assert_max_num_queries):
    for offset in range(20):  # three weeks off: longer than the first window read
        _holiday(NEXT_SUN + timedelta(days=offset))
    with django_assert_max_num_queries(3):
        assert add_business_days(THU, 1) == date(2026, 4, 5)  # the Sunday after


def test_a_day_runs_from_cairo_midnight_to_cairo_midnight():
    start, end = day_bounds(date(2026, 1, 15))  # winter: Cairo is UTC+2
    assert start.astimezone(UTC) == datetime(2026, 1, 14, 22, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 1, 15, 22, 0, tzinfo=UTC)
    assert start.tzinfo is zone()


def test_days_follow_each_other_without_gap_over_a_clock_change():
    day = date(2026, 4, 20)
    for offset in range(14):  # Egypt moves its clocks at midnight, late April
        _start, end = day_bounds(day + timedelta(days=offset))
        next_start, _end = day_bounds(day + timedelta(days=offset + 1))
        assert end == next_start
        assert timedelta(hours=23) <= end - _start <= timedelta(hours=25)
