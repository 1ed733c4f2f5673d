"""Every API endpoint, for the OpenAPI document: the same on the public site and tenant hosts."""

from django.urls import include, path

from deeplens.urls_api import tenant_api_patterns

urlpatterns = [path("api/v1/", include((tenant_api_patterns, "api")))]
