from playwright.sync_api import expect


def test_it_lets_an_admin_make_a_racer_a_race_facilitator(sign_in, site_admin, owner, shot):
    page = sign_in(site_admin)
    page.goto("/")
    page.get_by_role("navigation", name="Console navigation").get_by_role("link", name="Users and roles").click()
    row = page.get_by_role("row").filter(has_text="Owner_Racer")
    row.get_by_label("race facilitator").check()
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Roles of owner saved.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Owner_Racer").get_by_label("race facilitator")).to_be_checked()
    shot("users")
