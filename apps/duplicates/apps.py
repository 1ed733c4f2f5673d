from django.apps import AppConfig


class DuplicatesConfig(AppConfig):
    name = "apps.duplicates"
    label = "duplicates"
