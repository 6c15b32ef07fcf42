import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from console.navigation import NAVIGATION, navigation_for


def _labels(sections):
    return [link.label for _, links in sections for link in links]


def test_it_names_only_pages_that_exist():
    for entry in NAVIGATION:
        assert reverse(entry.url_name)


def test_it_keeps_the_deepracer_console_entries():
    names = {entry.url_name for entry in NAVIGATION}
    assert {"garage:list", "models:list", "accounts:profile"} <= names


def test_it_shows_the_admin_area_to_admins_only(owner, site_admin):
    assert "Site administration" not in _labels(navigation_for(owner, "/"))
    assert "Site administration" in _labels(navigation_for(site_admin, "/"))


def test_it_marks_the_current_page(owner):
    sections = dict(navigation_for(owner, "/accounts/profile/"))
    current = [link.label for link in sections["You"] if link.current]
    assert current == ["Racer profile"]
    assert not any(link.current for link in sections["Reinforcement learning"])


def test_it_groups_entries_into_sections_in_order(owner):
    sections = [section for section, _ in navigation_for(owner, "/")]
    assert sections[0] == "Reinforcement learning"
    assert "Administration" not in sections


@pytest.mark.django_db
def test_it_shows_nothing_admin_to_anonymous_users():
    assert "Site administration" not in _labels(navigation_for(AnonymousUser(), "/"))



def test_it_marks_only_the_longest_matching_entry_as_current(owner):
    from console.navigation import navigation_for

    links = [link for _, section in navigation_for(owner, "/races/leaderboards/") for link in section]
    assert [link.label for link in links if link.current] == ["Leaderboards"]
    links = [link for _, section in navigation_for(owner, "/races/some-race/") for link in section]
    assert [link.label for link in links if link.current] == ["Community races"]
