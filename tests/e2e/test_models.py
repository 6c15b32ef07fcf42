"""The racer's whole journey in one go, on the real worker: sign up → build a vehicle in the Garage → create
a model on quick_loop with a broken reward function pasted in (the error shows at its line), fixed (it
validates) → Create model starts training → a live video frame and a reward-graph point arrive → Stop →
evaluate 3 laps → the results table shows. Screenshots of every step land in test-artifacts/."""

import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD

BROKEN_REWARD = '''def reward_function(params):
    speed = params["speed"]
    if speed > 1.0
        return 1.0
    return float(speed)
'''
BROKEN_LINE = 3

FIXED_REWARD = '''import math


def reward_function(params):
    # Stay near the centre line, and keep all wheels on the track.
    if not params["all_wheels_on_track"]:
        return 1e-3
    distance = params["distance_from_center"] / (0.5 * params["track_width"])
    return float(max(1e-3, 1.0 - math.sqrt(distance)))
'''

# The worker starts MuJoCo, the reward sandbox and the env process before the first frame.
LIVE_TIMEOUT_MS = 180_000


def sign_up(page, shot):
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill("garage_racer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_label("Racer name").fill("Garage-Racer")
    page.get_by_role("button", name="Save racer name").click()
    expect(page.get_by_test_id("racer-name")).to_have_text("Garage-Racer")
    shot("signed-up")


def build_vehicle(page, shot):
    page.get_by_role("navigation", name="Console navigation").get_by_role("link", name="Garage").click()
    expect(page.get_by_test_id("vehicle-card")).to_have_count(2)  # the two default vehicles
    shot("garage")
    page.get_by_role("link", name="Build new vehicle").click()
    page.get_by_label("5-layer CNN").check()
    page.get_by_label("Maximum steering angle (°)").fill("25")
    page.get_by_label("Steering angle granularity").select_option("3")
    page.get_by_label("Maximum speed (m/s)").first.fill("2")
    actions = page.get_by_role("table", name="Actions").locator("tbody tr")
    expect(actions).to_have_count(6)  # the live table: 3 steering angles x 2 speeds
    expect(actions.nth(0)).to_contain_text("-25")
    expect(actions.nth(1)).to_contain_text("2")
    page.get_by_label("Maximum speed (m/s)").first.fill("9")
    expect(page.locator("#actions-preview-error")).to_contain_text("Maximum speed")
    page.get_by_label("Maximum speed (m/s)").first.fill("2")
    page.get_by_label("Advanced: edit each action").check()
    page.get_by_label("Action 5 speed").fill("2.5")
    page.get_by_label("Vehicle name").fill("Six Shooter")
    shot("build-vehicle")
    page.get_by_role("button", name="Done: build vehicle").click()
    expect(page.get_by_role("heading", name="Six Shooter")).to_be_visible()
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(6)
    shot("vehicle-built")


def set_reward(page, code):
    page.wait_for_function("window.rewardEditor !== undefined")
    page.evaluate("code => window.rewardEditor.setValue(code, -1)", code)


def test_it_goes_from_sign_up_to_evaluation_results(page, worker, shot):
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    sign_up(page, shot)
    build_vehicle(page, shot)

    page.get_by_role("navigation", name="Console navigation").get_by_role("link", name="Your models").click()
    page.get_by_role("link", name="Create model").first.click()
    page.get_by_role("textbox", name="Model name").fill("six-shooter-quick-loop")
    page.get_by_test_id("track-quick_loop").click()
    page.locator(".vehicle-choice", has_text="Six Shooter").click()
    set_reward(page, BROKEN_REWARD)
    shot("wizard-broken-reward")

    errors = page.locator("#validation-errors li")
    page.get_by_role("button", name="Validate").click()
    expect(errors.first).to_contain_text(f"Line {BROKEN_LINE}")
    expect(page.locator(".ace_gutter-cell.ace_error")).to_have_count(1)  # the annotation at its line
    shot("reward-error-at-line")

    set_reward(page, FIXED_REWARD)
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("status").filter(has_text="passed validation")).to_be_visible()
    expect(errors).to_have_count(0)
    shot("reward-fixed")

    page.get_by_role("button", name="Create model").click()
    expect(page).to_have_url(re.compile(r"/models/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("model-name")).to_have_text("six-shooter-quick-loop")
    expect(page.get_by_role("heading", name="Vehicle: Six Shooter")).to_be_visible()
    expect(page.get_by_role("img", name="Quick Loop")).to_be_visible()  # the track preview
    expect(page.locator(".properties").get_by_text("Quick Loop")).to_be_visible()
    shot("model-page")

    watch_training_then_evaluate(page, shot)
    assert console_errors == []


def watch_training_then_evaluate(page, shot):
    tabs = page.get_by_role("navigation", name="Model tabs")
    tabs.get_by_role("link", name="Training").click()
    page.wait_for_function("Number(document.getElementById('sim-video').dataset.frames) > 0", timeout=LIVE_TIMEOUT_MS)
    shot("live-video")
    page.wait_for_function("Number(document.getElementById('reward-graph').dataset.iterations) > 0",
                           timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#reward-graph .scatterlayer .trace").first).to_be_visible()
    shot("live-graph-point")
    page.get_by_test_id("stop-training").click()
    expect(page.get_by_test_id("status-banner").locator('[data-field="status"]')).to_have_text(
        "Completed", timeout=LIVE_TIMEOUT_MS)
    shot("training-stopped")

    tabs.get_by_role("link", name="Evaluation").click()
    page.get_by_label("Track", exact=True).select_option("quick_loop")
    page.get_by_label("Trials", exact=True).fill("3")
    page.get_by_test_id("start-evaluation").click()
    rows = page.get_by_test_id("evaluation-results").locator("tbody tr:not(.empty)")
    expect(rows).to_have_count(3, timeout=LIVE_TIMEOUT_MS)
    expect(rows.first.locator("td").nth(1)).to_have_text(re.compile(r"^\d\d:\d\d\.\d{3}$"))  # MM:SS.mmm
    shot("evaluation-results")


def test_it_clones_a_model_with_new_action_values_and_fixed_objects(racer_page, owner, shot):
    from tests.models_app.conftest import make_model

    page = racer_page
    parent = make_model(owner, name="parent-model")
    page.goto(f"/models/{parent.pk}/clone/")
    expect(page.get_by_role("textbox", name="Model name")).to_have_value("parent-model-clone")
    expect(page.get_by_role("table", name="Actions").locator("tbody tr")).to_have_count(10)
    page.get_by_label("Action 0 speed").fill("0.8")
    page.get_by_label("Object avoidance").check()
    page.get_by_label("Number of objects").fill("2")
    page.get_by_label("Number of objects").dispatch_event("change")
    page.get_by_label("Fixed locations").check()
    page.get_by_label("Object 2 location").fill("0.6")
    page.get_by_label("Object 2 lane").select_option("inner")
    page.get_by_role("radio", name="SAC").check()  # a discrete vehicle: the server refuses, the clone keeps everything typed
    expect(page.locator("#sac-note")).to_be_visible()
    shot("clone-wizard")
    page.get_by_role("button", name="Create model").click()
    expect(page.get_by_role("alert").filter(has_text="SAC needs a vehicle with a continuous action space.")).to_be_visible()
    page.get_by_role("radio", name="PPO").check()
    page.get_by_role("button", name="Create model").click()

    expect(page.get_by_test_id("model-name")).to_have_text("parent-model-clone")
    expect(page.get_by_text("clone of")).to_be_visible()
    expect(page.get_by_text("Object avoidance: 2 objects, fixed")).to_be_visible()
    expect(page.get_by_role("table").first.locator("tbody tr").first).to_contain_text("0.8")
    shot("clone-page")
