"""Admin: citizens, their one-time codes and the SMS outbox.

Registration and verification happen at the counter (counter.services.citizens),
so here the registration record, the mobile and the codes are read-only:
editing them would skip the checks and the SMS verification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from counter.models import Citizen, OtpChallenge, SmsMessage

if TYPE_CHECKING:
    from django.db.models import Model
    from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Citizen)
class CitizenAdmin(admin.ModelAdmin):
    list_display = [
        "national_id",
        "name_ar",
        "name_en",
        "mobile",
        "mobile_verified_at",
        "registered_branch",
        "registered_at",
    ]
    list_filter = ["registered_branch__governorate", "sex"]
    search_fields = ["=national_id", "=mobile", "name_ar", "name_en"]
    list_select_related = ["registered_branch"]
    date_hierarchy = "registered_at"
    readonly_fields = [
        "national_id",
        "birth_date",
        "governorate",
        "sex",
        "mobile",
        "mobile_verified_at",
        "consent_at",
        "registered_by",
        "registered_at",
        "registered_branch",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(OtpChallenge)
class OtpChallengeAdmin(ReadOnlyAdmin):
    list_display = [
        "citizen",
        "mobile",
        "created_at",
        "expires_at",
        "attempts",
        "burned",
        "verified_at",
        "sent_by",
    ]
    list_filter = ["burned"]
    search_fields = ["=mobile", "=citizen__national_id"]
    list_select_related = ["citizen", "sent_by"]
    # Even the hash stays out of sight.
    exclude = ["code_hash"]
    date_hierarchy = "created_at"


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyAdmin):
    list_display = ["to", "body", "created_at", "sent_at", "backend"]
    list_filter = ["backend"]
    search_fields = ["=to"]
    date_hierarchy = "created_at"
