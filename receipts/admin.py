from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from receipts.models import Receipt

if TYPE_CHECKING:
    from django.http import HttpRequest


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    """Read-only: prints are counted by the receipt pages, never edited."""

    list_display = ["reference", "kind", "created_at", "original_printed_at", "reprints"]
    list_filter = ["kind"]
    search_fields = ["reference"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Receipt | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Receipt | None = None) -> bool:
        return False
