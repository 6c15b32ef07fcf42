"""The console's left navigation, like the DeepRacer console's.

Every entry names a page that exists (the apps are installed statically); an app that adds a page adds
its entry here in the same commit, so the navigation never promises a page that is not built.
"""

from dataclasses import dataclass

from django.urls import reverse

from common.roles import is_admin


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
    NavEntry("Usage and quotas", "console:usage", "Administration", admin_only=True),
    NavEntry("Sign-up and invitations", "console:registration", "Administration", admin_only=True),
    NavEntry("Site administration", "admin:index", "Administration", admin_only=True),
)


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    current: bool


def navigation_for(user, current_path: str, entries=NAVIGATION) -> list[tuple[str, list[NavLink]]]:
    """[(section, [links])] in declaration order, keeping only entries this user may see."""
    admin = is_admin(user)
    visible = [(entry, reverse(entry.url_name)) for entry in entries if admin or not entry.admin_only]
    # The longest matching URL is the current page (/races/leaderboards/ is not also /races/).
    matching = [url for _, url in visible if (current_path == url if url == "/" else current_path.startswith(url))]
    current_url = max(matching, key=len, default=None)
    sections: dict[str, list[NavLink]] = {}
    for entry, url in visible:
        sections.setdefault(entry.section, []).append(NavLink(entry.label, url, url == current_url))
    return list(sections.items())

