from django.urls import path

from apps.workspace import views

app_name = "workspace"

urlpatterns = [
    path("settings/workspace/", views.SettingsPage.as_view(), name="settings"),
    path("jobs/", views.JobsPage.as_view(), name="jobs"),
    path("jobs/<uuid:job_id>/cancel/", views.JobCancelPage.as_view(), name="job_cancel"),
    path("jobs/<uuid:job_id>/retry/", views.JobRetryPage.as_view(), name="job_retry"),
]
