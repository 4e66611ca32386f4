from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.verify import CHUNK, audit_verify


class Command(BaseCommand):
    help = gettext_lazy(
        "Recompute every hash of the audit log, stream by stream, compare each stream with "
        "its head and the log with the ledger; report what is wrong and exit non-zero if "
        "anything is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stream",
            help=_("Check only this stream (e.g. till:42, user:7), not the ledger."),
        )
        parser.add_argument("--chunk-size", type=int, default=CHUNK, help=_("Rows per fetch."))

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify(stream=options["stream"], chunk_size=options["chunk_size"])
        self.stdout.write(
            _("Checked %(entries)s entries in %(streams)s streams.")
            % {"entries": report.entries, "streams": report.streams}
        )
        if report.transfers is not None:
            self.stdout.write(
                _("Checked %(transfers)s transfers of the ledger against the log.")
                % {"transfers": report.transfers}
            )
        for broken in report.breaks:
            self.stderr.write(
                _("stream %(stream)s: first broken link at seq %(seq)s: %(problem)s")
                % {"stream": broken.stream, "seq": broken.seq, "problem": broken.problem}
            )
        for mismatch in report.mismatches:
            self.stderr.write(_("ledger: %(problem)s") % {"problem": mismatch.problem})
        failures = []
        if report.breaks:
            failures.append(
                _("audit_verify found a broken chain in %(count)s of %(streams)s streams")
                % {"count": len(report.breaks), "streams": report.streams}
            )
        if report.mismatches:
            failures.append(
                _("audit_verify found %(count)s differences between the ledger and the log")
                % {"count": len(report.mismatches)}
            )
        if failures:
            raise CommandError("; ".join(failures))
        self.stdout.write(self.style.SUCCESS(_("Audit log OK")))
