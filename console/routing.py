"""Websocket routes, all under /ws/: the console's own and each app's, listed here."""

from django.urls import path

from console.consumers import NotificationConsumer
from races.routing import websocket_urlpatterns as race_routes
from training.routing import websocket_urlpatterns as training_routes

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    *training_routes,
    *race_routes,
]
