"""The demo catalog: three invented agencies and the services the counters sell for them.

Codes, budget items and amounts are invented. Everything is keyed by a code
and written with update_or_create, so seeding twice gives the same rows.
Amounts are piastres (EGP × 100).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from agents.demo import DemoContext
from counter.models import Agency, FeeComponent, FeeSchedule, ReferenceField, Service

EGP = 100
START = date(2026, 1, 1)
# Building licence renewal costs more from this date: the demo's fee history.
FEE_CHANGE = date(2026, 7, 1)

AGENCIES = [
    # code, Arabic name, English name
    ("LOCAL", "الوحدات المحلية", "Local administration units"),
    ("ELEC", "شركة توزيع الكهرباء", "Electricity Distribution Company"),
    ("MOF", "وزارة المالية", "Ministry of Finance"),
]


@dataclass(frozen=True)
class Fee:
    code: str
    kind: str
    name_ar: str
    name_en: str
    amount: int | None  # None: the amount due, typed at the counter
    paid_to: str | None = None  # agency code, when not the service's own agency


@dataclass(frozen=True)
class Ref:
    code: str
    label_ar: str
    label_en: str
    pattern: str
    hint_ar: str
    hint_en: str


@dataclass(frozen=True)
class DemoService:
    code: str
    agency: str
    name_ar: str
    name_en: str
    budget_item: str
    fees: list[Fee]
    refs: list[Ref] = field(default_factory=list)
    min_amount: int | None = None  # set for variable services
    max_amount: int | None = None
    requires_citizen: bool = True


def _principal() -> Fee:
    return Fee("principal", FeeComponent.Kind.PRINCIPAL, "المبلغ المستحق", "Amount due", None)


def _local_fee(amount_egp: int) -> Fee:
    return Fee(
        "local_fee",
        FeeComponent.Kind.AGENCY_FEE,
        "رسم الوحدة المحلية",
        "Local unit fee",
        amount_egp * EGP,
    )


def _stamp(amount_egp: int) -> Fee:
    return Fee(
        "stamp",
        FeeComponent.Kind.STAMP_DUTY,
        "ضريبة الدمغة",
        "Stamp duty",
        amount_egp * EGP,
        paid_to="MOF",
    )


def _post(amount_egp: int) -> Fee:
    return Fee(
        "post",
        FeeComponent.Kind.COMMISSION,
        "عمولة البريد",
        "Post office commission",
        amount_egp * EGP,
    )


LICENCE_NO = Ref(
    "licence_no",
    "رقم الرخصة",
    "Licence number",
    r"^[0-9]{1,6}/[0-9]{4}$",
    "الرقم ثم / ثم السنة، مثل 1234/2024",
    "The number, a slash and the year, like 1234/2024",
)
APPLICATION_NO = Ref(
    "application_no",
    "رقم الطلب",
    "Application number",
    r"^[0-9]{6,10}$",
    "من 6 إلى 10 أرقام",
    "6 to 10 digits",
)

SERVICES = [
    DemoService(
        "LA-101",
        "LOCAL",
        "تجديد رخصة بناء",
        "Building licence renewal",
        "1/2/3/11",
        [_local_fee(150), _stamp(10), _post(5)],
        [LICENCE_NO],
    ),
    DemoService(
        "LA-102",
        "LOCAL",
        "توصيل مرافق مؤقت",
        "Temporary utility connection",
        "1/2/3/12",
        [_local_fee(300), _stamp(10), _post(5)],
        [APPLICATION_NO],
    ),
    DemoService(
        "LA-103",
        "LOCAL",
        "إخطار بتغيير الاستخدام أو النشاط",
        "Notice of change of use or activity",
        "1/2/3/13",
        [_local_fee(100), _stamp(5), _post(3)],
        [LICENCE_NO],
    ),
    DemoService(
        "LA-104",
        "LOCAL",
        "تجديد رخصة إشغالات",
        "Occupancy licence renewal",
        "1/2/3/14",
        [_local_fee(200), _stamp(10), _post(5)],
        [LICENCE_NO],
    ),
    DemoService(
        "LA-105",
        "LOCAL",
        "تنازل عن رخصة محل",
        "Shop licence waiver",
        "1/2/3/15",
        [_local_fee(250), _stamp(10), _post(5)],
        [LICENCE_NO],
    ),
    DemoService(
        "LA-106",
        "LOCAL",
        "صورة طبق الأصل من رخصة",
        "Certified true copy of a licence",
        "1/2/3/16",
        [_local_fee(20), _stamp(2), _post(2)],
        [LICENCE_NO],
    ),
    DemoService(
        "LA-107",
        "LOCAL",
        "سداد قسط إيجار",
        "Rent instalment",
        "1/2/4/21",
        [_principal(), _post(3)],
        [
            Ref(
                "contract_no",
                "رقم العقد",
                "Contract number",
                r"^[0-9]{4,10}$",
                "من 4 إلى 10 أرقام، كما في العقد",
                "4 to 10 digits, as on the contract",
            )
        ],
        min_amount=10 * EGP,
        max_amount=50_000 * EGP,
    ),
    DemoService(
        "LA-108",
        "LOCAL",
        "حجز مقبرة",
        "Cemetery plot reservation",
        "1/2/4/22",
        [_local_fee(500), _stamp(10), _post(5)],
        [APPLICATION_NO],
    ),
    DemoService(
        "LA-109",
        "LOCAL",
        "إخطار تسوية حجز إداري",
        "Administrative seizure settlement notice",
        "1/2/5/31",
        [_principal(), _post(5)],
        [
            Ref(
                "notice_no",
                "رقم الإخطار",
                "Notice number",
                r"^[0-9]{8}$",
                "8 أرقام، أعلى الإخطار",
                "8 digits, at the top of the notice",
            )
        ],
        min_amount=1 * EGP,
        max_amount=100_000 * EGP,
    ),
    DemoService(
        "EL-201",
        "ELEC",
        "سداد فاتورة كهرباء",
        "Electricity bill payment",
        "2/1/1/01",
        [_principal(), _post(2)],
        [
            Ref(
                "bill_no",
                "رقم الفاتورة",
                "Bill number",
                r"^[0-9]{12}$",
                "12 رقمًا، أعلى الفاتورة",
                "12 digits, at the top of the bill",
            )
        ],
        min_amount=1 * EGP,
        max_amount=20_000 * EGP,
        requires_citizen=False,
    ),
    DemoService(
        "MF-301",
        "MOF",
        "سداد مستحقات حكومية",
        "Government dues",
        "3/1/1/01",
        [_principal(), _post(5)],
        [
            Ref(
                "dues_ref",
                "رقم المطالبة",
                "Dues reference",
                r"^[0-9]{10,14}$",
                "من 10 إلى 14 رقمًا، كما في المطالبة",
                "10 to 14 digits, as on the claim",
            )
        ],
        min_amount=1 * EGP,
        max_amount=500_000 * EGP,
    ),
]

# From FEE_CHANGE on, the building licence's local fee rises from 150 to 200 EGP.
LATER_SCHEDULES = {"LA-101": [_local_fee(200), _stamp(10), _post(5)]}


def _schedule(service: Service, start: date, fees: list[Fee], agencies: dict[str, Agency]) -> None:
    schedule, _ = FeeSchedule.objects.get_or_create(service=service, effective_from=start)
    for position, fee in enumerate(fees, start=1):
        FeeComponent.objects.update_or_create(
            schedule=schedule,
            code=fee.code,
            defaults={
                "kind": fee.kind,
                "name_ar": fee.name_ar,
                "name_en": fee.name_en,
                "amount": fee.amount,
                "agency": agencies[fee.paid_to] if fee.paid_to else None,
                "position": position,
            },
        )


def seed_catalog(ctx: DemoContext) -> None:
    """Agencies, services, their reference fields and fee schedules."""
    agencies = {}
    for code, name_ar, name_en in AGENCIES:
        agencies[code], _ = Agency.objects.update_or_create(
            code=code, defaults={"name_ar": name_ar, "name_en": name_en, "is_active": True}
        )
    for spec in SERVICES:
        kind = Service.AmountKind.FIXED if spec.min_amount is None else Service.AmountKind.VARIABLE
        service, _ = Service.objects.update_or_create(
            code=spec.code,
            defaults={
                "agency": agencies[spec.agency],
                "name_ar": spec.name_ar,
                "name_en": spec.name_en,
                "budget_item": spec.budget_item,
                "amount_kind": kind,
                "min_amount": spec.min_amount,
                "max_amount": spec.max_amount,
                "requires_citizen": spec.requires_citizen,
                "is_active": True,
            },
        )
        for position, ref in enumerate(spec.refs, start=1):
            ReferenceField.objects.update_or_create(
                service=service,
                code=ref.code,
                defaults={
                    "label_ar": ref.label_ar,
                    "label_en": ref.label_en,
                    "pattern": ref.pattern,
                    "hint_ar": ref.hint_ar,
                    "hint_en": ref.hint_en,
                    "required": True,
                    "position": position,
                },
            )
        _schedule(service, START, spec.fees, agencies)
        if spec.code in LATER_SCHEDULES:
            _schedule(service, FEE_CHANGE, LATER_SCHEDULES[spec.code], agencies)
    ctx.say(f"Catalog: {len(AGENCIES)} agencies, {len(SERVICES)} services.")
