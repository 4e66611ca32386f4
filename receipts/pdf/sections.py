"""What a receipt says, in order: header, banners, who and what, fees, payment, codes."""

from __future__ import annotations

from core.clock import local_time
from counter import methods
from receipts.data import ReceiptData
from receipts.pdf.layout import Block, Composer, Layout
from receipts.words import amount_in_words

TITLES = {
    "payment": ("إيصال سداد", "Payment receipt"),
    "void": ("إشعار إلغاء", "Void slip"),
    "top_up": ("إيصال شحن بطاقة", "Card top-up slip"),
}


def compose(data: ReceiptData, layout: Layout) -> list[Block]:
    try:
        title_ar, title_en = TITLES[data.kind]
    except KeyError:
        raise ValueError(f"Unknown receipt kind {data.kind!r}.") from None
    out = Composer(layout)
    size, small = layout.size, layout.small
    issued = local_time(data.issued_at)

    out.paragraph(data.network_ar, align="C", bold=True)
    out.paragraph(data.network_en, align="C", size=small)
    out.paragraph(data.branch_ar, align="C", bold=True)
    out.paragraph(data.branch_en, align="C")
    out.space()
    out.paragraph(title_ar, align="C", size=layout.title, bold=True)
    out.paragraph(title_en, align="C", size=layout.title, bold=True)
    if data.preview:
        out.space()
        out.banner("PREVIEW", "معاينة", "Not a receipt", "ليس إيصالًا")
    elif data.copy_number > 0:
        out.space()
        n = data.copy_number
        out.banner("COPY", "نسخة", f"Copy no. {n}", f"النسخة رقم {n}")
    if data.voided:
        out.space()
        out.banner("VOID", "ملغى", "This receipt is void", "هذا الإيصال ملغى")
    out.rule()

    out.pair("Receipt no.", "رقم الإيصال", data.reference)
    out.pair("Date", "التاريخ", f"{issued:%Y-%m-%d %H:%M}")
    out.pair("Branch code", "كود المكتب", data.branch_code)
    out.pair("Counter", "الشباك", str(data.counter_number))
    out.pair("Agent", "الموظف", data.agent_name)
    if data.payment_reference:
        out.pair("Voided receipt", "الإيصال الملغى", data.payment_reference, bold=True)
    if data.citizen_name or data.national_id_masked:
        out.rule()
        if data.citizen_name:
            out.pair("Citizen", "المواطن", data.citizen_name)
        if data.national_id_masked:
            out.pair("National ID", "الرقم القومي", data.national_id_masked)

    if data.service_ar or data.service_en or data.agency_ar or data.agency_en or data.references:
        out.rule()
    if data.service_ar or data.service_en:
        out.sides(f"Service: {data.service_en}", f"الخدمة: {data.service_ar}", bold=True)
    if data.agency_ar or data.agency_en:
        out.sides(f"Agency: {data.agency_en}", f"الجهة: {data.agency_ar}")
    if data.budget_item:
        out.pair("Budget item", "البند", data.budget_item)
    for label_ar, label_en, value in data.references:
        out.pair(label_en, label_ar, value)

    settle: list[tuple[str, str, int]] = []
    if data.tendered is not None:
        settle.append(("Paid", "المبلغ المدفوع", data.tendered))
    if data.change is not None:
        settle.append(("Change", "الباقي", data.change))
    if data.card_balance_after is not None:
        settle.append(("Balance after", "الرصيد بعد العملية", data.card_balance_after))
    out.amounts_column(
        [(line.label_ar, line.amount, size) for line in data.lines]
        + [("الإجمالي", data.total, layout.title)]
        + [(ar, amount, size) for _, ar, amount in settle]
    )
    out.rule()
    if data.lines:
        out.sides("Fees (EGP)", "الرسوم (ج.م)", size=small)
        for line in data.lines:
            out.amount(line.label_en, line.label_ar, line.amount)
        out.space(0.3)
    out.amount("Total (EGP)", "الإجمالي", data.total, bold=True, size=layout.title)
    out.space(0.3)
    total_words = abs(data.total)
    out.sides(amount_in_words(total_words, "en"), amount_in_words(total_words, "ar"), size=small)

    out.rule()
    method_en, method_ar = methods.get(data.method).receipt_labels()
    out.pair("Payment method", "طريقة الدفع", f"{method_en} / {method_ar}")
    if data.card_masked:
        out.pair("Card", "البطاقة", data.card_masked)
    for en, ar, value in data.method_rows:
        out.pair(en, ar, value)
    for en, ar, amount in settle:
        out.amount(en, ar, amount)

    if data.agency is not None:
        _agency_confirmation(out, data, small)

    out.rule()
    out.space()
    out.codes(data.reference, data.verify_url)
    out.paragraph("امسح الرمز للتحقق من صحة الإيصال", align="C", size=small)
    out.paragraph("Scan the code to check that this receipt is genuine", align="C", size=small)
    out.paragraph(data.verify_url, align="C", size=small)
    out.space()
    out.bilingual("Keep this receipt", "احتفظ بهذا الإيصال", size=small)
    return out.blocks


def _agency_confirmation(out: Composer, data: ReceiptData, small: float) -> None:
    """What the agency's own system has said, plainly: the cash is taken either way.

    At the original's print it has almost never answered yet: the receipt says so and
    where to see its confirmation later (the verification address, under the codes).
    """
    agency = data.agency
    assert agency is not None
    out.rule()
    if agency.status == "confirmed":
        out.pair("Confirmed by the agency", "أكدته الجهة", agency.agency_reference, bold=True)
        if agency.confirmed_at is not None:
            out.pair(
                "Confirmed at", "وقت التأكيد", f"{local_time(agency.confirmed_at):%Y-%m-%d %H:%M}"
            )
    elif agency.status == "refused":
        out.banner("REFUSED", "مرفوض", "Refused by the agency", "رفضته الجهة")
        out.bilingual("A refund is due to you", "يُستحق لك رد المبلغ", size=small)
    else:
        out.paragraph("لم تؤكد الجهة استلام هذا السداد بعد", align="C", bold=True)
        out.paragraph("The agency has not confirmed this payment yet", align="C", bold=True)
        out.paragraph("تابع تأكيد الجهة على رابط التحقق أدناه", align="C", size=small)
        out.paragraph(
            "Its confirmation will show at the verification address below", align="C", size=small
        )
