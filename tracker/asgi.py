"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.production")
# No persistent connections under ASGI: requests run on changing threads, each of which would keep its own.
os.environ.setdefault("DJANGO_CONN_MAX_AGE", "0")

application = get_asgi_application()
