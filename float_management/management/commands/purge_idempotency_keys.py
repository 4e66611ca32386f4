from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from float_management.models import IdempotencyRecord

MINIMUM_HOURS = 24


class Command(BaseCommand):
    help = "Delete idempotency keys older than --hours (at least 24: retries must keep working)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=int, default=72)

    def handle(self, *args: Any, hours: int, **options: Any) -> None:
        if hours < MINIMUM_HOURS:
            raise CommandError(f"keys are kept at least {MINIMUM_HOURS} hours")
        cutoff = timezone.now() - timedelta(hours=hours)
        deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} idempotency keys older than {hours} hours.")
