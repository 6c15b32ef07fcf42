"""Websocket routes, all under /ws/. Feature apps add theirs in a `routing.py` with `websocket_urlpatterns`."""

from importlib import import_module
from importlib.util import find_spec

from django.conf import settings
from django.urls import path

from console.consumers import NotificationConsumer


def _feature_routes() -> list:
    routes = []
    for app in settings.FEATURE_APPS:
        if find_spec(app) is not None and find_spec(f"{app}.routing") is not None:
            routes += import_module(f"{app}.routing").websocket_urlpatterns
    return routes


websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    *_feature_routes(),
]
