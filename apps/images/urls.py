from django.urls import path

from apps.images import views

app_name = "images"

urlpatterns = [
    path("", views.GalleryPage.as_view(), name="gallery"),
    path("upload/", views.UploadPage.as_view(), name="upload"),
    path("trash/", views.TrashPage.as_view(), name="trash"),
    path("failed/", views.FailedPage.as_view(), name="failed"),
    path("bulk/", views.ImagesBulkActionPage.as_view(), name="bulk"),
    path("<uuid:image_id>/", views.ImageDetailPage.as_view(), name="detail"),
    path("<uuid:image_id>/action/", views.ImageActionPage.as_view(), name="action"),
]
