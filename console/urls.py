from importlib.util import find_spec

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy
from drf_spectacular.views import SpectacularAPIView

from console import account_views, user_views, views

# Feature apps plug their pages in here once they exist (module, URL prefix); each module's urls.py
# names its own namespace (app_name), e.g. garage:list, models:list, models:create, races:list.
FEATURE_URLS = (
    ("garage.urls", "garage/"),
    ("models_app.urls", "models/"),
    ("training.urls", "training/"),
    ("races.urls", "races/"),
    ("garage.api", "api/"),
    ("models_app.api", "api/"),
    ("races.api", "api/"),
)


def _exists(module: str) -> bool:
    package = module.rsplit(".", 1)[0]
    return find_spec(package) is not None and find_spec(module) is not None



console_patterns = (
    [
        path("", views.home, name="home"),
        path("health/", views.health, name="health"),
        path("manage/users/", user_views.users, name="users"),
        path("manage/users/<int:user_id>/roles/", user_views.user_roles, name="user_roles"),
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
urlpatterns += [path(prefix, include(module)) for module, prefix in FEATURE_URLS if _exists(module)]
