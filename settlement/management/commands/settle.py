"""python manage.py settle --day 2026-03-15 --by <head office username>"""

from argparse import ArgumentTypeError
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from core.errors import DomainError
from core.money import format_amount
from settlement.models import SettlementBatch
from settlement.services import settlement_run


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(f"a day is YYYY-MM-DD, not {text!r}") from None


class Command(BaseCommand):
    help = (
        "Settle a business day to the agencies (one batch and one ledger transfer per agency). "
        "Running it again for a settled day posts nothing and lists the batches; for a day "
        "settled half-way (a run stopped), it settles the rest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--day", required=True, type=_day, help="the day, YYYY-MM-DD (Cairo)")
        parser.add_argument("--by", required=True, help="username of the head office person")

    def handle(self, *args: Any, day: date, by: str, **options: Any) -> None:
        with translation.override("en"):  # the operator's log reads in English
            self._settle(day, by)

    def _settle(self, day: date, by: str) -> None:
        user = get_user_model().objects.filter(username=by, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {by!r}.")
        before = set(SettlementBatch.objects.filter(business_day=day).values_list("pk", flat=True))
        try:
            batches = settlement_run(business_day=day, by=user)
        except DomainError as error:
            raise CommandError(str(error)) from None

        if not batches:
            self.stdout.write(f"{day}: nothing to settle (no payments owed to an agency).")
            return
        posted = [b for b in batches if b.pk not in before]
        if not posted:
            verb = "already settled, nothing posted"
        elif before:
            verb = f"settled the rest ({len(posted)} batches; {len(before)} were settled before)"
        else:
            verb = "settled"
        self.stdout.write(f"{day}: {verb}; value date {batches[0].value_date}.")
        for batch in batches:
            self.stdout.write(
                f"  {batch.agency.code:<12} {batch.items_count:>7} payments "
                f"{format_amount(batch.total):>18} EGP  "
                f"batch {batch.pk} transfer {batch.transfer_id}"
            )
        total = sum(b.total for b in batches)
        count = sum(b.items_count for b in batches)
        self.stdout.write(self.style.SUCCESS(f"Total {format_amount(total)} EGP, {count} items."))
