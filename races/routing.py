from django.urls import path

from races.consumers import LiveRaceConsumer, RaceConsumer

websocket_urlpatterns = [
    path("ws/races/<uuid:race_id>/", RaceConsumer.as_asgi()),
    path("ws/races/<uuid:race_id>/live/", LiveRaceConsumer.as_asgi()),
    path("ws/races/projector/<str:token>/", LiveRaceConsumer.as_asgi()),
]
