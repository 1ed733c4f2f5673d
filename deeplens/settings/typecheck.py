"""Settings for mypy's django-stubs plugin (`make lint`), which imports them and calls django.setup().

Base settings, nothing more: unlike deeplens.settings.test this starts no PostgreSQL or Redis, and unlike
deeplens.settings.local it needs none running. The database below is never connected to; the plugin
only reads the models and the engine.
"""

from deeplens.settings.base import *  # noqa: F403
from deeplens.settings.base import database_settings

DATABASES = {"default": database_settings("postgres://typecheck@127.0.0.1:1/typecheck")}
