"""The image list's filters: GET /api/v1/images (and /images/search) and the gallery, trash and
failed pages read the same query parameters through this one FilterSet."""

import django_filters
from django import forms
from django.core.validators import RegexValidator

from apps.core.filtering import FilterSet, IntegerFilter, MultipleChoiceFilter, MultipleValueFilter
from apps.images.models import Image, ImageFormat, ImageStatus

ORDERINGS = [
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("-size_bytes", "Largest first"),
    ("size_bytes", "Smallest first"),
    ("-taken_at", "Taken, newest first"),
    ("taken_at", "Taken, oldest first"),
    ("-original_filename", "Name, Z to A"),
    ("original_filename", "Name, A to Z"),
]
DEFAULT_ORDERING = "-created_at"


def _instant(field_name: str, lookup_expr: str, label: str) -> django_filters.DateTimeFilter:
    # A day (2026-11-23, midnight in the current time zone) or a full ISO 8601 instant.
    return django_filters.DateTimeFilter(field_name=field_name, lookup_expr=lookup_expr, label=label)


def _size(field_name: str, lookup_expr: str, label: str) -> IntegerFilter:
    return IntegerFilter(field_name=field_name, lookup_expr=lookup_expr, label=label, min_value=0)


class ImageFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=ImageStatus.choices, label="Status")
    format = MultipleChoiceFilter(
        choices=ImageFormat.choices, label="Format", help_text="any of the given formats"
    )
    tag = MultipleValueFilter(
        field_name="tags",
        lookup_expr="contains",
        label="Tag",
        child=forms.CharField(max_length=64),
        help_text="every given tag (repeat the parameter)",
    )
    uploaded_after = _instant("created_at", "gte", "Uploaded after")
    uploaded_before = _instant("created_at", "lt", "Uploaded before")
    taken_after = _instant("taken_at", "gte", "Taken after")
    taken_before = _instant("taken_at", "lt", "Taken before")
    min_bytes = _size("size_bytes", "gte", "Smallest size in bytes")
    max_bytes = _size("size_bytes", "lte", "Largest size in bytes")
    min_width = _size("width", "gte", "Smallest width")
    min_height = _size("height", "gte", "Smallest height")
    max_width = _size("width", "lte", "Largest width")
    max_height = _size("height", "lte", "Largest height")
    storage_location = django_filters.UUIDFilter(field_name="storage_location_id", label="Storage location")
    q = django_filters.CharFilter(
        field_name="original_filename", lookup_expr="icontains", max_length=200, label="Name"
    )
    sha256 = django_filters.CharFilter(
        label="SHA-256",
        validators=[RegexValidator(r"^[0-9a-f]{64}$", "64 lowercase hexadecimal digits.")],
    )
    ordering = django_filters.ChoiceFilter(choices=ORDERINGS, method="order", label="Order")

    class Meta:
        model = Image
        fields: list[str] = []

    def order(self, queryset, name, value):
        return queryset.order_by(value, "-id")
