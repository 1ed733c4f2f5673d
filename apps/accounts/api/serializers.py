"""Output shapes shared by several account endpoints."""

from rest_framework import serializers

from apps.accounts.models import User
from apps.tenants.models import Tenant


class UserOutput(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField[Tenant](slug_field="slug", read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "role",
            "tenant",
            "is_active",
            "email_confirmed",
            "last_login",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
