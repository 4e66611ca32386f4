"""What can go wrong when we speak to an agency's own billing system.

Each error carries ``message``, a sentence a counter agent can read (translated when
shown), and ``detail``, what happened on the wire, for the logs. ``str(error)`` is both.

- ``AgencyUnavailable``: nothing was applied (the agency could not be reached, failed
  with a 5xx before acting, answered something we cannot read, or took too long before
  the request was sent); the same call may work later. ``CircuitOpen`` is one: we did not
  even try, the agency has been failing.
- ``AgencyRefused``: the agency answered 4xx and will answer it again
  (``UnknownReference``: 404; ``BillChanged``: 409, the bill was paid or changed).
- ``OutcomeUnknown``: a payment or a void was sent and no answer came back; the agency
  MAY have applied it. Resolve it with ``payment_status``; never send it again blindly
  and never refund on it.
"""

from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _


class AgencyError(Exception):
    def __init__(self, message, *, agency_code: str = "", detail: str = ""):
        self.message = message
        self.agency_code = agency_code
        self.detail = detail
        super().__init__(message, detail)

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else str(self.message)


class AgencyUnavailable(AgencyError):
    """Nothing was applied; the same call may work later."""

    def __init__(self, message=None, *, agency_code: str = "", detail: str = ""):
        if message is None:
            message = format_lazy(
                _("The system of agency {agency} is not answering; try again in a moment."),
                agency=agency_code,
            )
        super().__init__(message, agency_code=agency_code, detail=detail)


class CircuitOpen(AgencyUnavailable):
    """The agency has been failing: calls are refused at once until its cool-off ends."""

    def __init__(self, *, agency_code: str = "", seconds: int = 0, detail: str = ""):
        super().__init__(
            format_lazy(
                _(
                    "The system of agency {agency} has been failing; we stopped asking it "
                    "for a while. Try again in {seconds} s."
                ),
                agency=agency_code,
                seconds=seconds,
            ),
            agency_code=agency_code,
            detail=detail or "circuit open",
        )
        self.seconds = seconds


class AgencyRefused(AgencyError):
    """The agency answered 4xx: asking again the same way will get the same answer.

    ``code`` is the agency's own error code (``bill_already_paid``) or the HTTP status.
    """

    def __init__(self, code: str, message=None, *, agency_code: str = "", detail: str = ""):
        if message is None:
            message = format_lazy(
                _("Agency {agency} refused the request ({code})."), agency=agency_code, code=code
            )
        super().__init__(message, agency_code=agency_code, detail=detail)
        self.code = code


class UnknownReference(AgencyRefused):
    """The agency knows no such reference (or payment)."""

    def __init__(self, code: str = "not_found", *, agency_code: str = "", detail: str = ""):
        super().__init__(
            code,
            format_lazy(
                _("Agency {agency} knows no such reference; check the number with the citizen."),
                agency=agency_code,
            ),
            agency_code=agency_code,
            detail=detail,
        )


class BillChanged(AgencyRefused):
    """The bill was paid already or changed since the inquiry: inquire again."""

    def __init__(self, code: str = "conflict", *, agency_code: str = "", detail: str = ""):
        super().__init__(
            code,
            format_lazy(
                _(
                    "Agency {agency} says the bill was already paid or has changed; "
                    "inquire again before taking any money."
                ),
                agency=agency_code,
            ),
            agency_code=agency_code,
            detail=detail,
        )


class OutcomeUnknown(AgencyError):
    """Sent, and no answer came back: the agency may have applied it.

    Resolve with ``payment_status``; never resend blindly, never refund on this alone.
    """

    def __init__(self, *, agency_code: str = "", detail: str = ""):
        super().__init__(
            format_lazy(
                _(
                    "Agency {agency} did not confirm in time; it may have recorded the "
                    "payment. Its status will be checked: do not take the money again."
                ),
                agency=agency_code,
            ),
            agency_code=agency_code,
            detail=detail,
        )
