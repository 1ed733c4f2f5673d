from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from apps.accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "tenant", "role", "is_active", "last_login", "created_at"]
    list_filter = ["role", "is_active", "tenant"]
    search_fields = ["email", "first_name", "last_name"]
    list_select_related = ["tenant"]
    readonly_fields = ["last_login", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "email_confirmed"]}),
        ("Access", {"fields": ["tenant", "role", "is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at", "deleted_at"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["email", "tenant", "role", "password1", "password2"]}),
    ]
    filter_horizontal = []
