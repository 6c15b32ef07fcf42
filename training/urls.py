from django.urls import include, path

from training import api, views

app_name = "training"

urlpatterns = [
    path("models/<uuid:model_id>/", views.model_training, name="model"),
    path("models/<uuid:model_id>/start/", views.start_training, name="start"),
    path("models/<uuid:model_id>/analysis/", views.model_analysis, name="analysis"),
    path("models/<uuid:model_id>/evaluation/", views.model_evaluation, name="model_evaluation"),
    path("jobs/<int:job_id>/stop/", views.stop_training, name="stop"),
    path("jobs/<int:job_id>/continue/", views.continue_training, name="continue"),
    path("jobs/<int:job_id>/state.json", views.training_state, name="state"),
    path("jobs/<int:job_id>/training.log", views.training_logs, name="logs"),
    path("evaluations/<int:evaluation_id>/", views.evaluation_detail, name="evaluation"),
    path("evaluations/<int:evaluation_id>/state.json", views.evaluation_state, name="evaluation_state"),
    path("evaluations/<int:evaluation_id>/stop/", views.stop_evaluation, name="evaluation_stop"),
    path("evaluations/<int:evaluation_id>/video.mp4", views.evaluation_video, name="evaluation_video"),
    path("api/", include(api.router.urls)),
]
