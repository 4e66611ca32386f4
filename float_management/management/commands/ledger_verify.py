from typing import Any

from django.core.management.base import BaseCommand, CommandError

from float_management.verify import ledger_verify


class Command(BaseCommand):
    help = "Recompute every balance from the entries; exit non-zero on any mismatch."

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger_verify()
        self.stdout.write(
            f"Checked {report.transfers} transfers, {report.entries} entries, "
            f"{report.accounts} accounts."
        )
        self.stdout.write(
            "Every transfer sums to zero: "
            + ("no" if any(p.startswith("transfer") for p in report.problems) else "yes")
        )
        self.stdout.write(
            "Every stored balance equals its entries: "
            + ("no" if any(p.startswith("account") for p in report.problems) else "yes")
        )
        self.stdout.write(
            "All balances sum to zero: "
            + ("no" if any(p.startswith("balances") for p in report.problems) else "yes")
        )
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(problem)
            raise CommandError(f"ledger_verify found {len(report.problems)} problem(s)")
        self.stdout.write(self.style.SUCCESS("Ledger OK"))
