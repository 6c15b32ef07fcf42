from django.urls import path

from training.consumers import EvaluationConsumer, TrainingConsumer

websocket_urlpatterns = [
    path("ws/training/<int:job_id>/", TrainingConsumer.as_asgi()),
    path("ws/evaluation/<int:job_id>/", EvaluationConsumer.as_asgi()),
]
