"""The demo network: a few governorates, branches, counters and one person of every role.

All names are invented. Everything is keyed by a stable code or username and
written with update_or_create, so seeding twice gives the same database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Permission

from agents.models import Branch, Counter, Governorate, Profile, Role

BRANCHES = [
    # code, governorate, Arabic name, English name, counters, till limit (EGP)
    ("01001", "01", "مكتب بريد العتبة", "Attaba Post Office", 3, 50_000),
    ("01002", "01", "مكتب بريد مصر الجديدة", "Heliopolis Post Office", 2, 50_000),
    ("21001", "21", "مكتب بريد الدقي", "Dokki Post Office", 2, 40_000),
    ("02001", "02", "مكتب بريد المنشية", "Manshiya Post Office", 2, 40_000),
    ("25001", "25", "مكتب بريد أسيوط الرئيسي", "Asyut Main Post Office", 2, 30_000),
]

_FIRST = [
    "أحمد",
    "منى",
    "محمود",
    "سارة",
    "خالد",
    "هالة",
    "يوسف",
    "دينا",
    "طارق",
    "نرمين",
    "عمرو",
    "ريهام",
    "إبراهيم",
    "شيماء",
    "حسام",
    "أمل",
    "كريم",
    "ياسمين",
    "مصطفى",
    "نهى",
]
_LAST = [
    "عبد الرحمن",
    "السيد",
    "فهمي",
    "الشافعي",
    "منصور",
    "رضوان",
    "عثمان",
    "البنا",
    "حجازي",
    "سليمان",
    "زكي",
    "النجار",
    "الجمال",
    "بدوي",
    "شلبي",
    "عطية",
    "مراد",
]


@dataclass
class DemoContext:
    """What one seed run knows; later apps' demo steps read and extend it."""

    password: str
    stdout: Any = None
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    _encoded: str = ""
    _name_index: int = 0
    _checked: dict[str, bool] = field(default_factory=dict)

    def say(self, text: str) -> None:
        if self.stdout is not None:
            self.stdout.write(text)

    def next_name(self) -> tuple[str, str]:
        i = self._name_index
        self._name_index += 1
        return _FIRST[i % len(_FIRST)], _LAST[(i * 7) % len(_LAST)]

    def encoded_password(self) -> str:
        # One hash for every demo user: PBKDF2 takes a good part of a second.
        if not self._encoded:
            self._encoded = make_password(self.password)
        return self._encoded

    def password_matches(self, encoded: str) -> bool:
        if encoded not in self._checked:
            self._checked[encoded] = check_password(self.password, encoded)
        return self._checked[encoded]


def _person(
    ctx: DemoContext,
    username: str,
    role: Role,
    *,
    branch: Branch | None = None,
    governorate: Governorate | None = None,
    staff: bool = False,
) -> Any:
    User = get_user_model()
    first, last = ctx.next_name()
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last}
    )
    user.first_name, user.last_name = first, last
    user.is_active = True
    user.is_staff = staff
    if created or not ctx.password_matches(user.password):
        user.password = ctx.encoded_password()
    user.save()
    Profile.objects.update_or_create(
        user=user, defaults={"role": role, "branch": branch, "governorate": governorate}
    )
    ctx.logins.append((username, str(role.label), str(branch or governorate or "")))
    return user


def seed(ctx: DemoContext) -> None:
    """Branches, counters and people of every role."""
    governorates = {g.code: g for g in Governorate.objects.all()}
    for code, gov, name_ar, name_en, counters, limit_egp in BRANCHES:
        branch, _ = Branch.objects.update_or_create(
            code=code,
            defaults={
                "governorate": governorates[gov],
                "name_ar": name_ar,
                "name_en": name_en,
                "till_cash_limit": limit_egp * 100,
                "is_active": True,
            },
        )
        _person(ctx, f"sup.{code}", Role.BRANCH_SUPERVISOR, branch=branch)
        for number in range(1, counters + 1):
            Counter.objects.update_or_create(
                branch=branch, number=number, defaults={"is_active": True}
            )
            _person(ctx, f"agent.{code}.{number}", Role.AGENT, branch=branch)
    for gov in sorted({b[1] for b in BRANCHES}):
        _person(ctx, f"reg.{gov}", Role.REGIONAL_SUPERVISOR, governorate=governorates[gov])
    head = _person(ctx, "headoffice", Role.HEAD_OFFICE, staff=True)
    if not head.is_superuser:
        head.is_superuser = True
        head.save(update_fields=["is_superuser"])
    auditor = _person(ctx, "auditor", Role.AUDITOR, staff=True)
    # The auditor reads everything in the admin and changes nothing.
    auditor.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    ctx.say(f"Network: {Branch.objects.count()} branches, {Counter.objects.count()} counters.")
