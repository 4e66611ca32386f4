"""The ledger in the admin: readable by those allowed, never editable (corrections are
reversing transfers posted by the services). Denominations are data, edited here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from float_management.models import (
    Account,
    Decision,
    Denomination,
    Entry,
    Request,
    TillSession,
    Transfer,
    VaultMovement,
)

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


@admin.register(Denomination)
class DenominationAdmin(admin.ModelAdmin):
    list_display = ["value", "form", "is_active"]
    list_filter = ["form", "is_active"]

    def has_delete_permission(self, request: HttpRequest, obj: Denomination | None = None) -> bool:
        return False  # past counts refer to them; deactivate instead


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["key", "kind", "branch", "balance"]
    list_filter = ["kind"]
    search_fields = ["key"]
    list_select_related = ["branch"]


class EntryInline(admin.TabularInline):
    model = Entry
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount"]

    def has_add_permission(self, request: HttpRequest, obj: Transfer | None = None) -> bool:
        return False


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["pk", "kind", "branch", "created_by", "created_at", "reverses"]
    list_filter = ["kind"]
    date_hierarchy = "created_at"
    list_select_related = ["branch", "created_by"]
    inlines = [EntryInline]


@admin.register(TillSession)
class TillSessionAdmin(ReadOnlyAdmin):
    list_display = ["counter", "agent", "status", "requested_at", "closed_at", "variance"]
    list_filter = ["status", "branch__governorate"]
    list_select_related = ["counter__branch", "agent"]


@admin.register(Request)
class RequestAdmin(ReadOnlyAdmin):
    list_display = ["pk", "kind", "branch", "amount", "requested_by", "requested_at"]
    list_filter = ["kind"]
    list_select_related = ["branch", "requested_by"]


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["request", "approved", "decided_by", "decided_at", "reason"]
    list_select_related = ["request", "decided_by"]


@admin.register(VaultMovement)
class VaultMovementAdmin(ReadOnlyAdmin):
    list_display = ["branch", "direction", "amount", "handled_by", "witnessed_by", "created_at"]
    list_select_related = ["branch", "handled_by", "witnessed_by"]
