from django.contrib import admin

from apps.audit.models import AuditEvent
from apps.core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: audit events are never edited or deleted (the database refuses it too)."""

    list_display = [
        "created_at",
        "action",
        "tenant",
        "actor_email",
        "impersonator_email",
        "target_type",
        "target_id",
        "ip_address",
    ]
    list_filter = ["action", "tenant"]
    search_fields = ["actor_email", "impersonator_email", "target_id"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant"]
