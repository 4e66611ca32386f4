from django.contrib import admin

from receipts.models import Receipt


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    """Read-only: prints are counted by the receipt pages, never edited."""

    list_display = ["reference", "kind", "created_at", "original_printed_at", "reprints"]
    list_filter = ["kind"]
    search_fields = ["reference"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
