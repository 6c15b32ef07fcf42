"""WSGI entry point (HTTP only; the console is served through ASGI so that websockets work)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
application = get_wsgi_application()
