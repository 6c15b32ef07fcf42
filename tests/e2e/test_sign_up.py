import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD


def test_it_signs_up_chooses_a_racer_name_and_sees_the_console(page, shot):
    page.goto("/")
    expect(page.get_by_role("heading", name="Teach a race car to drive itself")).to_be_visible()
    shot("landing")

    page.get_by_role("link", name="Sign up").first.click()
    expect(page.get_by_text("becomes its admin")).to_be_visible()
    page.get_by_label("Username").fill("first_racer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    shot("sign-up")
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/accounts/racer-name/"))
    page.get_by_label("Racer name").fill("Lap-Legend_1")
    shot("racer-name")
    page.get_by_role("button", name="Save racer name").click()

    expect(page.get_by_role("heading", name="Get started with reinforcement learning")).to_be_visible()
    expect(page.get_by_test_id("racer-name")).to_have_text("Lap-Legend_1")
    navigation = page.get_by_role("navigation", name="Console navigation")
    expect(navigation.get_by_role("link", name="Get started")).to_have_attribute("aria-current", "page")
    expect(navigation.get_by_role("link", name="Racer profile")).to_be_visible()
    expect(navigation.get_by_role("link", name="Site administration")).to_be_visible()  # the first account
    shot("home")


def test_it_opens_and_closes_the_info_panel(racer_page, shot):
    racer_page.goto("/")
    panel = racer_page.get_by_role("complementary", name="Help for this page")
    expect(panel).to_be_hidden()
    racer_page.get_by_role("button", name="Info", exact=True).click()
    expect(panel).to_be_visible()
    expect(panel.get_by_text("Words to know")).to_be_visible()
    shot("info-open")
    racer_page.get_by_role("button", name="Close help").click()
    expect(panel).to_be_hidden()


def test_it_shows_a_notification_a_celery_task_sends(racer_page, owner, worker, shot):
    from console.tasks import notify_user

    racer_page.goto("/accounts/profile/")
    expect(racer_page.locator("body[data-notifications-connected='true']")).to_have_count(1)
    notify_user.delay(owner.pk, "Your model finished training.", "success")
    expect(racer_page.get_by_role("status").filter(has_text="Your model finished training.")).to_be_visible()
    shot("notification")
