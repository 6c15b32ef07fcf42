"""The console's left navigation, like the DeepRacer console's.

An entry shows only when its URL name resolves, so a page appears in the navigation the moment its app
adds the URL, and a page not built yet is absent rather than a stub.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from console.roles import is_admin


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    section: str
    admin_only: bool = False


NAVIGATION = (
    NavEntry("Get started", "console:home", "Reinforcement learning"),
    NavEntry("Your models", "models:list", "Reinforcement learning"),
    NavEntry("Garage", "garage:list", "Reinforcement learning"),
    NavEntry("Community races", "races:list", "Compete"),
    NavEntry("Leaderboards", "races:leaderboards", "Compete"),
    NavEntry("Racer profile", "accounts:profile", "You"),
    NavEntry("Change password", "accounts:password_change", "You"),
    NavEntry("Users and roles", "console:users", "Administration", admin_only=True),
    NavEntry("Site administration", "admin:index", "Administration", admin_only=True),
)


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    current: bool


def _resolve(url_name: str) -> str | None:
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


def navigation_for(user, current_path: str, entries=NAVIGATION) -> list[tuple[str, list[NavLink]]]:
    """[(section, [links])] in declaration order, keeping only entries this user may see that resolve."""
    admin = is_admin(user)
    sections: dict[str, list[NavLink]] = {}
    for entry in entries:
        url = _resolve(entry.url_name)
        if url is None or (entry.admin_only and not admin):
            continue
        current = current_path == url if url == "/" else current_path.startswith(url)
        sections.setdefault(entry.section, []).append(NavLink(entry.label, url, current))
    return list(sections.items())


def first_resolving_url(*url_names: str) -> str | None:
    """The URL of the first name that resolves: for calls to action that point at pages still to come."""
    for name in url_names:
        url = _resolve(name)
        if url is not None:
            return url
    return None
