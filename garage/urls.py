from django.urls import path

from garage import views

app_name = "garage"
urlpatterns = [
    path("", views.vehicle_list, name="list"),
    path("new/", views.vehicle_build, name="build"),
    path("<int:pk>/", views.vehicle_detail, name="detail"),
    path("<int:pk>/mod/", views.vehicle_mod, name="mod"),
    path("<int:pk>/delete/", views.vehicle_delete, name="delete"),
]
