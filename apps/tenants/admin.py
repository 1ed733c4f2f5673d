from django import forms
from django.contrib import admin
from django_tenants.utils import get_public_schema_name

from apps.tenants.models import Domain, Tenant, TenantStatus, TenantTier
from apps.tenants.services import tenant_provision, tenant_set_status


class TenantCreateForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "slug", "tier"]


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "status", "tier", "schema_name", "created_at"]
    list_filter = ["status", "tier"]
    search_fields = ["name", "slug"]
    readonly_fields = ["schema_name", "created_at", "updated_at"]
    actions = ["suspend", "activate"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(schema_name=get_public_schema_name())

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TenantCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "slug", "tier"]
        return [
            "name",
            "slug",
            "schema_name",
            "status",
            "tier",
            "max_storage_bytes",
            "max_users",
            "max_api_calls_per_day",
            "created_at",
            "updated_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "slug"] if obj else []

    def get_inlines(self, request, obj):
        return [DomainInline] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # The form has validated the slug; provisioning creates the schema, storage and specs.
        provisioned = tenant_provision(
            name=form.cleaned_data["name"],
            slug=form.cleaned_data["slug"],
            tier=form.cleaned_data.get("tier") or TenantTier.FREE,
        )
        obj.pk = provisioned.pk

    @admin.action(description="Suspend selected tenants")
    def suspend(self, request, queryset):
        for tenant in queryset:
            tenant_set_status(tenant=tenant, status=TenantStatus.SUSPENDED)

    @admin.action(description="Activate selected tenants")
    def activate(self, request, queryset):
        for tenant in queryset:
            tenant_set_status(tenant=tenant, status=TenantStatus.ACTIVE)
