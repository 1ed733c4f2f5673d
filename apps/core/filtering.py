"""The base of every list's FilterSet (django-filter), the error a bad filter raises, and the OpenAPI
parameters of a list endpoint read off its FilterSet.

One FilterSet per list, in the app's filters.py, is applied by the list's selector. The API passes
`request.query_params` and lets InvalidFilter become a 400; a page passes `request.GET` and shows
`FilterErrors` next to the form, with no results, instead of the unfiltered list."""

from dataclasses import dataclass, field
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django_filters.constants import EMPTY_VALUES
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.utils import extend_schema_field

from apps.core.errors import InvalidInput
from apps.core.schema import DeepLensAutoSchema

# A query string (request.GET, request.query_params) or a plain dict: what a FilterSet reads.
FilterData = QueryDict | dict[str, Any]


class InvalidFilter(InvalidInput):
    code = "invalid_filter"


class FilterSet(django_filters.FilterSet):
    """Filters from a query string: unknown parameters and empty values are ignored, a value that
    does not parse raises InvalidFilter (never a silently wider list)."""

    def filtered(self) -> QuerySet:
        if not self.is_valid():
            detail = {name: [str(message) for message in errors] for name, errors in self.errors.items()}
            labels = ", ".join(detail)
            raise InvalidFilter(
                f"These filters are not valid: {labels}. See detail for what each accepts.",
                extra=detail,
            )
        return self.qs


def apply_filters(filterset_class: type[FilterSet], data: FilterData | None, queryset: QuerySet) -> QuerySet:
    """`queryset` narrowed by `data` (a QueryDict or a dict); raises InvalidFilter."""
    return filterset_class(data or {}, queryset=queryset).filtered()


@dataclass
class FilterErrors:
    """What a page shows above its list when a filter is not valid: one line per parameter."""

    lines: list[str] = field(default_factory=list)

    @classmethod
    def from_exception(cls, exc: InvalidFilter, filterset_class: type[FilterSet]) -> "FilterErrors":
        filters = filterset_class.base_filters
        lines = []
        for name, messages in exc.extra.items():
            label = filters[name].label if name in filters and filters[name].label else name
            lines.append(f"{label}: {' '.join(messages)}")
        return cls(lines=lines)

    def __bool__(self) -> bool:
        return bool(self.lines)


class MultipleValueField(forms.Field):
    """A repeated query parameter (?tag=a&tag=b), each value cleaned by `child`; empty ones dropped."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, child: forms.Field, **kwargs):
        self.child = child
        super().__init__(**kwargs)

    def clean(self, value):
        values = [v for v in (value or []) if v not in EMPTY_VALUES]
        return [self.child.clean(v) for v in values]


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class MultipleValueFilter(django_filters.Filter):
    """All of the given values (e.g. tags__contains=[...]), from a repeated parameter."""

    field_class = MultipleValueField


class _MultipleChoiceField(django_filters.fields.MultipleChoiceField):
    def clean(self, value):
        return super().clean([v for v in (value or []) if v not in EMPTY_VALUES])


class MultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    """Any of the given choices, from a repeated parameter; an empty value (a form's "Any") is
    ignored. OR'ed equalities, without django-filter's default DISTINCT (no joins here)."""

    field_class = _MultipleChoiceField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class _BooleanField(forms.Field):
    """true/false (also 1/0, yes/no, on/off, any case), as DRF reads them; anything else is an
    error, where django-filter's BooleanFilter would quietly not filter."""

    widget = forms.TextInput
    TRUE, FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}

    def to_python(self, value):
        if value in EMPTY_VALUES:
            return None
        text = str(value).strip().lower()
        if text in self.TRUE | self.FALSE:
            return text in self.TRUE
        raise forms.ValidationError("Must be true or false.", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    # The stubs narrow field_class to each filter's own field; django-filter takes any form field.
    field_class = _BooleanField  # type: ignore[assignment]


@extend_schema_field({"type": "integer", "minimum": 0})
class IntegerFilter(django_filters.NumberFilter):
    """A whole number (django-filter's NumberFilter takes decimals)."""

    field_class = forms.IntegerField  # type: ignore[assignment]  # (see BooleanFilter)


class FilterBackend(DjangoFilterBackend):
    """Declares a list endpoint's FilterSet for the OpenAPI document: an APIView sets
    `filter_backends = [FilterBackend]` and `filterset_class`; its selector does the filtering."""

    def filter_queryset(self, request, queryset, view):
        return apply_filters(view.filterset_class, request.query_params, queryset)


class FilterSetParameters(DjangoFilterExtension):
    """The query parameters of a FilterBackend view, typed from its FilterSet's model: the view is a
    plain APIView with no queryset, so the model comes from the FilterSet."""

    target_class = "apps.core.filtering.FilterBackend"
    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        filterset_class = getattr(auto_schema.view, "filterset_class", None)
        if filterset_class is None:
            return []
        model = filterset_class._meta.model
        parameters = []
        for name, filter_field in filterset_class.base_filters.items():
            parameters += self.resolve_filter_field(auto_schema, model, filterset_class, name, filter_field)
        return parameters


class FilteredSchema(DeepLensAutoSchema):
    """For an endpoint that filters like a list but answers something else (a CSV export): its
    FilterSet's parameters are documented although the operation is not a list."""

    def get_filter_backends(self):
        return getattr(self.view, "filter_backends", [])
