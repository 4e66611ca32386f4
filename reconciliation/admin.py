"""Reconciliation in the admin: runs and their lines are only read.

A run is what the provider's file and our books said when it ran; changing
one here would make it say something else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from reconciliation.models import ReconciliationItem, ReconciliationRun

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


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(_ReadOnly):
    list_display = [
        "business_day",
        "source",
        "ran_at",
        "ran_by",
        "matched",
        "only_ours",
        "only_theirs",
        "amount_differs",
        "total_ours",
        "total_theirs",
    ]
    list_filter = ["source"]
    date_hierarchy = "business_day"
    list_select_related = ["ran_by"]


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(_ReadOnly):
    list_display = ["run", "kind", "entry", "their_key", "our_amount", "their_amount", "note"]
    # No inline on the run: a national day has tens of thousands of card payments.
    list_filter = ["kind", "entry", "run__source", "run__business_day"]
    search_fields = ["their_key", "payment__reference"]
    list_select_related = ["run", "payment"]
    raw_id_fields = ["run", "payment", "wallet_transaction"]
