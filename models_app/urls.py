from django.urls import path

from models_app import views

app_name = "models"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("queue/", views.model_queue, name="queue"),
    path("create/", views.model_create_view, name="create"),
    path("import/", views.model_import_view, name="import"),
    path("api-token/", views.api_token, name="api_token"),
    path("tracks/", views.track_list, name="tracks"),
    path("tracks/<int:pk>/delete/", views.track_delete, name="track_delete"),
    path("<uuid:pk>/", views.model_detail, name="detail"),
    path("<uuid:pk>/clone/", views.model_clone, name="clone"),
    path("<uuid:pk>/delete/", views.model_delete_view, name="delete"),
    path("<uuid:pk>/download/", views.model_download, name="download"),
    path("<uuid:pk>/car-bundle/", views.model_car_bundle, name="car_bundle"),
]
