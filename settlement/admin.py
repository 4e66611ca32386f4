"""Settlement in the admin: batches and items are only read.

Batches are written by `settlement.services.settlement_run` together with
their ledger transfer; changing one here would part it from the ledger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from settlement.models import SettlementBatch, SettlementItem

if TYPE_CHECKING:
    from django.db.models import Model
    from django.http import HttpRequest


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(SettlementBatch)
class SettlementBatchAdmin(_ReadOnly):
    list_display = [
        "business_day",
        "agency",
        "value_date",
        "items_count",
        "total",
        "created_by",
        "created_at",
    ]
    list_filter = ["agency"]
    date_hierarchy = "business_day"
    list_select_related = ["agency", "created_by"]


@admin.register(SettlementItem)
class SettlementItemAdmin(_ReadOnly):
    list_display = ["batch", "payment", "agency", "amount"]
    # No inline on the batch: a national day has hundreds of thousands of items.
    list_filter = ["agency", "batch__business_day"]
    search_fields = ["payment__reference"]
    list_select_related = ["batch__agency", "payment", "agency"]
    raw_id_fields = ["batch", "payment"]
