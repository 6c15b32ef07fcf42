"""An admin runs a workshop from the console: changes a racer's quota and switches sign-up to invite-only,
creates an invitation link, and a newcomer signs up with it (once)."""

from playwright.sync_api import expect

from training import quotas


def test_it_lets_an_admin_change_a_racers_quota(sign_in, site_admin, owner, shot):
    page = sign_in(site_admin)
    page.goto("/")
    page.get_by_role("navigation", name="Console navigation").get_by_role("link", name="Usage and quotas").click()
    row = page.get_by_role("row").filter(has_text="Owner_Racer")
    row.get_by_label("Compute minutes of owner").fill("45")
    row.get_by_label("Models of owner").fill("-1")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Quota of owner saved.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Owner_Racer").get_by_label("Compute minutes of owner")).to_have_value("45")
    assert quotas.limits_of(owner) == quotas.Limits(compute_minutes=45, models_count=-1)
    shot("usage")


def test_it_lets_an_admin_switch_to_invitations_and_a_newcomer_sign_up_with_one(sign_in, site_admin, browser,
                                                                                  live_url, shot):
    page = sign_in(site_admin)
    page.goto("/")
    page.get_by_role("navigation", name="Console navigation").get_by_role("link", name="Sign-up and invitations").click()
    page.get_by_label("Invite-only: an invitation link is needed").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Sign-up is now invite-only.")).to_be_visible()
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_text("Invitation created")).to_be_visible()
    link = page.get_by_label("Invitation link", exact=True).first.input_value()
    shot("invitations")

    newcomer = browser.new_context(base_url=live_url).new_page()
    newcomer.goto("/accounts/signup/")
    expect(newcomer.get_by_role("heading", name="Sign-up is by invitation")).to_be_visible()
    newcomer.goto(link)
    newcomer.get_by_label("Username").fill("newcomer")
    newcomer.get_by_label("Password", exact=True).fill("a long pass phrase 42")
    newcomer.get_by_label("Password confirmation").fill("a long pass phrase 42")
    newcomer.get_by_role("button", name="Sign up").click()
    expect(newcomer.get_by_role("heading", name="Choose your racer name")).to_be_visible()
    newcomer.context.clear_cookies()
    newcomer.goto(link)
    expect(newcomer.get_by_text("This invitation link was used already")).to_be_visible()
