from django.urls import path

from races.consumers import HeatConsumer, LiveRaceConsumer, RaceConsumer

websocket_urlpatterns = [
    path("ws/races/<uuid:race_id>/", RaceConsumer.as_asgi()),
    path("ws/races/<uuid:race_id>/live/", LiveRaceConsumer.as_asgi()),
    path("ws/races/projector/<str:token>/", LiveRaceConsumer.as_asgi()),
    path("ws/races/<uuid:race_id>/heats/<int:heat_id>/", HeatConsumer.as_asgi()),
]
