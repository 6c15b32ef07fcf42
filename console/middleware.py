from functools import cache
from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import reverse

from console.accounts import racer_name_of

# Pages a signed-in person without a racer name may still reach: choosing it, leaving, and the
# plumbing (static files, the admin site, APIs and sockets, which answer for themselves).
EXEMPT_PREFIXES = ("/static/", "/media/", "/admin/", "/api/", "/ws/", "/health/")
EXEMPT_URL_NAMES = ("accounts:racer_name", "accounts:logout")


@cache
def _exempt_paths() -> frozenset[str]:
    return frozenset(reverse(name) for name in EXEMPT_URL_NAMES)


class RacerNameRequiredMiddleware:
    """Send signed-in users without a racer name to choose one before they use the console."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._needs_racer_name(request):
            target = reverse("accounts:racer_name")
            return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def _needs_racer_name(self, request) -> bool:
        if not request.user.is_authenticated or request.path.startswith(EXEMPT_PREFIXES):
            return False
        if request.path in _exempt_paths():
            return False
        return racer_name_of(request.user) is None
