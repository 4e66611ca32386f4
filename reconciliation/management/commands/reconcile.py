"""python manage.py reconcile --source wallet|bankcard --day 2026-03-15 [--by <username>]"""

from argparse import ArgumentTypeError
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from core.money import format_amount
from reconciliation import selectors
from reconciliation.models import ItemKind, Source
from reconciliation.services import reconciliation_run
from wallet.providers import ProviderError


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(f"a day is YYYY-MM-DD, not {text!r}") from None


def _amount(piastres: int | None) -> str:
    return "-" if piastres is None else format_amount(piastres)


class Command(BaseCommand):
    help = (
        "Reconcile an outside system's daily file (the wallet provider's or the card "
        "acquirer's) against our books, and print the counts and the lines to look into. "
        "Running a day again makes a new run; the latest counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, choices=Source.values)
        parser.add_argument("--day", required=True, type=_day, help="the day, YYYY-MM-DD (Cairo)")
        parser.add_argument("--by", help="username of the person running it (optional)")

    def handle(self, *args: Any, source: str, day: date, by: str | None, **options: Any) -> None:
        with translation.override("en"):  # the operator's log reads in English
            self._reconcile(source, day, by)

    def _reconcile(self, source: str, day: date, by: str | None) -> None:
        user = None
        if by:
            user = get_user_model().objects.filter(username=by, is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {by!r}.")
        try:
            run = reconciliation_run(source=source, business_day=day, by=user)
        except ProviderError as error:
            raise CommandError(f"{source}: nothing reconciled, nothing saved: {error}") from None

        self.stdout.write(f"{source} {day}: run {run.pk}")
        for kind, count in [
            (ItemKind.MATCHED, run.matched),
            (ItemKind.ONLY_OURS, run.only_ours),
            (ItemKind.ONLY_THEIRS, run.only_theirs),
            (ItemKind.AMOUNT_DIFFERS, run.amount_differs),
        ]:
            self.stdout.write(f"  {kind:<15} {count:>7}")
        self.stdout.write(
            f"  ours {format_amount(run.total_ours)} EGP, "
            f"theirs {format_amount(run.total_theirs)} EGP"
        )
        exceptions = list(selectors.run_exceptions(run))
        for item in exceptions:
            line = (
                f"  {item.kind:<15} {item.entry:<8} {item.their_key:<24} "
                f"ours {_amount(item.our_amount):>12} theirs {_amount(item.their_amount):>12}"
            )
            self.stdout.write(line + (f"  ({item.note})" if item.note else ""))
        if exceptions:
            self.stdout.write(self.style.WARNING(f"{len(exceptions)} lines to look into."))
        else:
            self.stdout.write(self.style.SUCCESS("Every line matched."))
