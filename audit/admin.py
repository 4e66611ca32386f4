"""The audit log in the admin: to read, never to add, change or delete (not even superusers).

Also the admin's bulk "Delete selected" action, wrapped so that deleting several
objects at once is audited: Django writes their LogEntries with bulk_create,
which sends no post_save for audit.receivers to see.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.models import DELETION
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from audit.models import AuditEntry
from audit.receivers import ADMIN_ACTIONS, append_admin_change


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "action",
        "actor_username",
        "branch",
        "object_type",
        "object_id",
        "stream",
        "seq",
    ]
    # Exact matches only, on indexed columns: the log grows to millions of rows, so no
    # DISTINCT-based list filters, date hierarchy or substring search.
    search_fields = ["=actor_username", "=stream"]
    list_select_related = ["branch"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
    show_full_result_count = False  # no COUNT(*) over millions of rows on each page

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def delete_selected(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Model]
) -> HttpResponse | None:
    """Django's own bulk delete, and each object it deletes appended to the audit log."""
    confirmed = bool(request.POST.get("post"))
    with transaction.atomic():
        doomed = [(obj.pk, str(obj)[:200]) for obj in queryset] if confirmed else []
        response = django_delete_selected(modeladmin, request, queryset)
        # One object: Django saves its LogEntry, and audit.receivers appends it.
        if response is None and len(doomed) > 1:
            content_type = ContentType.objects.get_for_model(queryset.model)
            for pk, text in doomed:
                append_admin_change(
                    user=request.user,
                    action=ADMIN_ACTIONS[DELETION],
                    content_type=content_type,
                    object_id=pk,
                    object_repr=text,
                )
    return response


delete_selected.allowed_permissions = django_delete_selected.allowed_permissions
delete_selected.short_description = django_delete_selected.short_description
admin.site.add_action(delete_selected, "delete_selected")
