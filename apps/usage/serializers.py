"""The shapes of the analytics and overview responses, for the OpenAPI document."""

from rest_framework import serializers


class ByClass(serializers.Serializer):
    general = serializers.IntegerField()
    search = serializers.IntegerField()
    upload = serializers.IntegerField()


class LocationUsage(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    provider = serializers.CharField()
    is_default = serializers.BooleanField()
    bytes = serializers.IntegerField()
    images = serializers.IntegerField()


class DayUsage(serializers.Serializer):
    date = serializers.DateField()
    total = serializers.IntegerField()
    general = serializers.IntegerField()
    search = serializers.IntegerField()
    upload = serializers.IntegerField()
    rate_limited = serializers.IntegerField()


class Limits(serializers.Serializer):
    requests_per_minute = serializers.IntegerField()
    searches_per_minute = serializers.IntegerField()
    uploads_per_minute = serializers.IntegerField()
    max_storage_bytes = serializers.IntegerField()
    max_users = serializers.IntegerField()
    max_api_calls_per_day = serializers.IntegerField()


class TenantAnalyticsOutput(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    tier = serializers.CharField()
    time_zone = serializers.CharField()
    storage_used = serializers.IntegerField(help_text="Bytes of originals, trash included until purged.")
    storage_limit = serializers.IntegerField()
    storage_by_location = LocationUsage(many=True)
    api_calls_today = serializers.IntegerField()
    api_calls_month = serializers.IntegerField()
    api_calls_today_by_class = ByClass()
    api_calls_month_by_class = ByClass()
    api_calls_daily_limit = serializers.IntegerField()
    searches_today = serializers.IntegerField()
    searches_month = serializers.IntegerField()
    uploads_today = serializers.IntegerField()
    uploads_month = serializers.IntegerField()
    rate_limited_today = serializers.IntegerField()
    rate_limited_month = serializers.IntegerField()
    images = serializers.DictField(
        child=serializers.IntegerField(), help_text="total, ready, waiting, failed, trash"
    )
    processing_failures = serializers.JSONField(help_text="{total, by_stage: {stage: n}}")
    users = serializers.IntegerField()
    users_limit = serializers.IntegerField()
    limits = Limits()
    daily = DayUsage(many=True)


class TenantRow(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    tier = serializers.CharField()
    storage_used = serializers.IntegerField()
    storage_limit = serializers.IntegerField()
    images = serializers.IntegerField()
    failed = serializers.IntegerField()
    api_calls_today = serializers.IntegerField()
    api_calls_month = serializers.IntegerField()
    rate_limited_today = serializers.IntegerField()
    api_calls_daily_limit = serializers.IntegerField()


class StatsOverviewOutput(serializers.Serializer):
    tenants = serializers.JSONField(help_text="{total, by_status, by_tier}")
    images = serializers.IntegerField()
    failed_images = serializers.IntegerField()
    storage_used = serializers.IntegerField()
    api_calls_today = serializers.IntegerField()
    api_calls_month = serializers.IntegerField()
    rate_limited_today = serializers.IntegerField()
    queues = serializers.DictField(child=serializers.IntegerField(allow_null=True))
    health = serializers.DictField(child=serializers.BooleanField())
    users = serializers.IntegerField()
    per_tenant = TenantRow(many=True)
