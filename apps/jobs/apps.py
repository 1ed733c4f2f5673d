from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Background jobs of every domain: the one Job model, the kind registry and the runner. The
    domains register their kinds in their own ready(); this app never imports them."""

    name = "apps.jobs"
    label = "jobs"
