from django import forms
from django.contrib import admin
from django_tenants.utils import get_public_schema_name

from apps.audit.context import Actor
from apps.tenants.models import LIMIT_FIELDS, Domain, Tenant, TenantStatus, TenantTier, Tier
from apps.tenants.services import tenant_provision, tenant_update, tier_update


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

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TenantCreateForm
        form = super().get_form(request, obj, change, **kwargs)
        for field in LIMIT_FIELDS:
            if field in form.base_fields:
                form.base_fields[field].help_text = "Leave empty to use the tier's limit."
        return form

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "slug", "tier"]
        return [
            "name",
            "slug",
            "schema_name",
            "status",
            "tier",
            "time_zone",
            *LIMIT_FIELDS,
            "created_at",
            "updated_at",
        ]

    def has_delete_permission(self, request, obj=None):
        return False  # tenants are suspended or marked deleted; their schema is never dropped from here

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "slug"] if obj else []

    def get_inlines(self, request, obj):
        return [DomainInline] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            data = form.cleaned_data
            tenant_update(
                tenant=obj,
                actor=Actor.from_request(request),
                name=data.get("name"),
                status=data.get("status"),
                tier=data.get("tier"),
                time_zone=data.get("time_zone"),
                limits={field: data[field] for field in LIMIT_FIELDS if field in form.changed_data},
            )
            return
        # The form has validated the slug; provisioning creates the schema, storage and specs.
        provisioned = tenant_provision(
            name=form.cleaned_data["name"],
            slug=form.cleaned_data["slug"],
            tier=form.cleaned_data.get("tier") or TenantTier.FREE,
            actor=Actor.from_request(request),
        )
        obj.pk = provisioned.pk

    @admin.action(description="Suspend selected tenants")
    def suspend(self, request, queryset):
        for tenant in queryset:
            tenant_update(tenant=tenant, status=TenantStatus.SUSPENDED, actor=Actor.from_request(request))

    @admin.action(description="Activate selected tenants")
    def activate(self, request, queryset):
        for tenant in queryset:
            tenant_update(tenant=tenant, status=TenantStatus.ACTIVE, actor=Actor.from_request(request))


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    """The four tiers' limits. Edits apply to every tenant on the tier within seconds."""

    list_display = ["slug", *LIMIT_FIELDS, "updated_at"]
    list_editable = list(LIMIT_FIELDS)
    readonly_fields = ["slug", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        limits = {field: form.cleaned_data[field] for field in form.changed_data if field in LIMIT_FIELDS}
        tier_update(tier=Tier.objects.get(pk=obj.pk), actor=Actor.from_request(request), limits=limits)
