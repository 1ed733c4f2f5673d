import os

from django.core.wsgi import get_wsgi_application

from apps.core.tracing import tracing_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deeplens.settings.local")

# Off unless DEEPLENS_TRACING is set; before the application is built (it adds a middleware).
tracing_setup(service_name="deeplens-web", django=True)
application = get_wsgi_application()
