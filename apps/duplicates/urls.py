from django.urls import path

from apps.duplicates import views

app_name = "duplicates"

urlpatterns = [
    path("", views.ReviewPage.as_view(), name="review"),
    path("report/", views.ReportPage.as_view(), name="report"),
    path("bulk/", views.BulkActionPage.as_view(), name="bulk"),
    path("<uuid:group_id>/action/", views.GroupActionPage.as_view(), name="action"),
    path("resolutions/<uuid:resolution_id>/undo/", views.ResolutionUndoPage.as_view(), name="undo"),
]
