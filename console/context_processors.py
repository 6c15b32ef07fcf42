from django.conf import settings

from common.roles import is_admin
from console.accounts import racer_name_of
from console.navigation import navigation_for


def console(request):
    """What the shell (templates/base.html) shows on every page: the navigation and the racer name."""
    user = request.user
    if not user.is_authenticated:
        return {"site_name": settings.SITE_NAME}
    return {
        "site_name": settings.SITE_NAME,
        "navigation": navigation_for(user, request.path),
        "racer_name": racer_name_of(user),
        "is_console_admin": is_admin(user),
    }
