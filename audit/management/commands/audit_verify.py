from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.verify import CHUNK, audit_verify


class Command(BaseCommand):
    help = gettext_lazy(
        "Recompute every hash of the audit log, stream by stream; report the first broken "
        "link of each stream and exit non-zero if there is one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--stream", help=_("Check only this stream (e.g. till:42, user:7)."))
        parser.add_argument("--chunk-size", type=int, default=CHUNK, help=_("Rows per fetch."))

    def handle(self, *args, **options):
        report = audit_verify(stream=options["stream"], chunk_size=options["chunk_size"])
        self.stdout.write(
            _("Checked %(entries)s entries in %(streams)s streams.")
            % {"entries": report.entries, "streams": report.streams}
        )
        if not report.ok:
            for broken in report.breaks:
                self.stderr.write(
                    _("stream %(stream)s: first broken link at seq %(seq)s: %(problem)s")
                    % {"stream": broken.stream, "seq": broken.seq, "problem": broken.problem}
                )
            raise CommandError(
                _("audit_verify found a broken chain in %(count)s of %(streams)s streams")
                % {"count": len(report.breaks), "streams": report.streams}
            )
        self.stdout.write(self.style.SUCCESS(_("Audit log OK")))
