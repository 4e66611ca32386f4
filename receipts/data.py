"""What a receipt says, independent of how it is drawn (PDF roll, A4, HTML preview)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

NETWORK_AR = "شبكة مكاتب البريد"
NETWORK_EN = "Postal Counter Network"


@dataclass(frozen=True)
class ReceiptLine:
    label_ar: str
    label_en: str
    amount: int  # piastres


@dataclass(frozen=True)
class AgencyConfirmation:
    """What an integrated service's agency has said of the payment (its own system).

    The cash is in the till whatever it says: the receipt is the citizen's proof.
    """

    status: str  # "waiting" (pending or unknown), "confirmed" or "refused"
    confirmed_at: datetime | None = None
    agency_reference: str = ""  # the agency's id of the payment, once confirmed
    request_status: str = ""  # a request's status (agencies.RequestStatus), if it opened one
    request_label: str = ""  # its status's name (a lazy translation: shown in the page's language)
    request_reason: str = ""  # the agency's reason, when it rejected the request


@dataclass(frozen=True)
class ReceiptData:
    kind: str  # "payment", "top_up" or "void"
    reference: str  # the receipt number (Code128)
    branch_ar: str
    branch_en: str
    branch_code: str
    counter_number: int
    agent_name: str
    issued_at: datetime  # aware; drawn in Africa/Cairo
    total: int  # piastres
    verify_url: str  # absolute URL with the signed token (QR)
    method: str = "cash"  # a payment method's key (counter.methods): it names itself
    citizen_name: str | None = None
    national_id_masked: str | None = None
    service_ar: str = ""
    service_en: str = ""
    agency_ar: str = ""
    agency_en: str = ""
    budget_item: str = ""
    payment_reference: str | None = None  # the voided payment, on a void slip
    references: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # label_ar, label_en, value
    lines: list[ReceiptLine] = field(default_factory=list)
    tendered: int | None = None
    change: int | None = None
    card_masked: str | None = None
    card_balance_after: int | None = None
    # What the payment's method prints of itself: (English, Arabic, value), e.g. a card
    # terminal's approval code or a wallet provider's transaction id (counter.methods).
    method_rows: list[tuple[str, str, str]] = field(default_factory=list)
    copy_number: int = 0  # 0: the original; n > 1: the n-th print, a copy ("COPY n")
    preview: bool = False  # a PDF opened, not printed: it says it is not a receipt
    voided: bool = False
    # None for a service no agency's system is told of (and on void and top-up slips).
    agency: AgencyConfirmation | None = None
    network_ar: str = NETWORK_AR
    network_en: str = NETWORK_EN
