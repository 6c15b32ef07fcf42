import pytest
from playwright.sync_api import expect

LAPTOP = {"width": 1280, "height": 720}
LARGE_MONITOR = {"width": 2560, "height": 1440}


@pytest.mark.parametrize("viewport", [LAPTOP, LARGE_MONITOR], ids=["laptop", "large-monitor"])
def test_it_fits_the_shell_to_the_screen(racer_page, shot, viewport):
    racer_page.set_viewport_size(viewport)
    racer_page.goto("/")
    expect(racer_page.get_by_role("navigation", name="Console navigation")).to_be_visible()
    expect(racer_page.get_by_role("heading", name="Get started with reinforcement learning")).to_be_visible()
    overflow = racer_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    shot("home")


def test_it_collapses_the_navigation_and_remembers_it(racer_page):
    racer_page.goto("/")
    navigation = racer_page.get_by_role("navigation", name="Console navigation")
    racer_page.get_by_role("button", name="Navigation").click()
    expect(navigation).to_be_hidden()
    racer_page.goto("/accounts/profile/")
    expect(navigation).to_be_hidden()
    racer_page.get_by_role("button", name="Navigation").click()
    expect(navigation).to_be_visible()


def test_it_signs_out_from_the_header_menu(racer_page):
    racer_page.goto("/")
    racer_page.get_by_test_id("racer-name").click()
    racer_page.get_by_role("button", name="Sign out").click()
    expect(racer_page.get_by_role("heading", name="Teach a race car to drive itself")).to_be_visible()
