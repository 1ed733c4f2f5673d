from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records nobody edits by hand: audit events, sessions, impersonations, keys."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
