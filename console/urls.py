"""Every page of the console, listed here: each app's urls.py names its own namespace (app_name), e.g.
garage:list, models:list, models:create, training:job; the REST API lives under /api/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy
from drf_spectacular.views import SpectacularAPIView

from console import account_views, user_views, views

console_patterns = (
    [
        path("", views.home, name="home"),
        path("health/", views.health, name="health"),
        path("manage/users/", user_views.users, name="users"),
        path("manage/users/<int:user_id>/roles/", user_views.user_roles, name="user_roles"),
        path("manage/users/<int:user_id>/quota/", user_views.user_quota, name="user_quota"),
        path("manage/usage/", user_views.usage, name="usage"),
        path("manage/quotas/", user_views.quota_defaults, name="quota_defaults"),
        path("manage/registration/", user_views.registration, name="registration"),
        path("manage/invitations/", user_views.invitation_create, name="invitation_create"),
    ],
    "console",
)

account_patterns = (
    [
        path("signup/", account_views.sign_up, name="sign_up"),
        path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
        path(
            "password/",
            auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("accounts:password_change_done")),
            name="password_change",
        ),
        path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
        path("racer-name/", account_views.racer_name, name="racer_name"),
        path("profile/", account_views.profile, name="profile"),
    ],
    "accounts",
)

urlpatterns = [
    path("", include(console_patterns)),
    path("accounts/", include(account_patterns)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
urlpatterns += [
    path("garage/", include("garage.urls")),
    path("models/", include("models_app.urls")),
    path("training/", include("training.urls")),
    path("races/", include("races.urls")),
    path("api/", include("console.api")),
    path("api/", include("garage.api")),
    path("api/", include("models_app.api")),
    path("api/", include("races.api")),
]
