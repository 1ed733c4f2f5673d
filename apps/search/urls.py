from django.urls import path

from apps.search import views

app_name = "search"

urlpatterns = [
    path("", views.SearchPage.as_view(), name="search"),
    path("query/<str:token>", views.SearchQueryPreview.as_view(), name="query-preview"),
]
