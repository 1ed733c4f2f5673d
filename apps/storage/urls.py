from django.urls import path

from apps.storage import views

app_name = "storage"

urlpatterns = [
    path("", views.StorageLocationsPage.as_view(), name="locations"),
    path("add/", views.StorageLocationAddPage.as_view(), name="add"),
    path("index/", views.StorageIndexPage.as_view(), name="index"),
    path("move/", views.StorageMoveSelectedPage.as_view(), name="move"),
    path("jobs/<uuid:job_id>/", views.StorageJobPage.as_view(), name="job"),
    path("<uuid:location_id>/migrate/", views.StorageMigratePage.as_view(), name="migrate"),
    path(
        "<uuid:location_id>/<str:action>/",
        views.StorageLocationActionPage.as_view(),
        name="action",
    ),
]
