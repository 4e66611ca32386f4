"""The counter's data: citizens and their codes, the catalog, payments, prepaid cards."""

from counter.models.catalog import (
    Agency,
    FeeComponent,
    FeeSchedule,
    ReferenceField,
    Service,
)
from counter.models.citizens import Citizen, OtpChallenge, SmsMessage
from counter.models.payments import Payment, PaymentLine, PrepaidCard, TopUp

__all__ = [
    "Agency",
    "Citizen",
    "FeeComponent",
    "FeeSchedule",
    "OtpChallenge",
    "Payment",
    "PaymentLine",
    "PrepaidCard",
    "ReferenceField",
    "Service",
    "SmsMessage",
    "TopUp",
]
