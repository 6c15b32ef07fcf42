"""Bring what you trained elsewhere: drop the real deepracer-for-cloud sample folder (../shared) in the
browser, see its original training (27 iterations, three evaluations, its reward function and vehicle), and
clone it into a model that trains here."""

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.test_models import LIVE_TIMEOUT_MS

SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "deepracer-logs" / "sample-drfc-1-logs"


def test_it_imports_a_dropped_folder_and_clones_it_into_a_model_that_trains(racer_page, worker, shot):
    page = racer_page
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.goto("/models/import/")
    page.get_by_role("textbox", name="Model name").fill("drfc-sample")
    page.get_by_label("… or a folder").set_input_files(SAMPLE.resolve())
    expect(page.locator("[data-folder-summary]")).to_contain_text("files in sample-drfc-1-logs/")
    shot("folder-chosen")
    page.get_by_role("button", name="Import model").click()

    expect(page).to_have_url(re.compile(r"/models/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("model-origin")).to_contain_text("Imported from deepracer-for-cloud")
    expect(page.get_by_test_id("logs-model-notice")).to_contain_text("cannot be evaluated or raced")
    expect(page.get_by_test_id("original-training")).to_contain_text("27 (540 episodes")
    expect(page.locator(".actions-table tbody tr")).to_have_count(14)
    expect(page.locator("#reward-code")).to_contain_text("marker_1 = 0.1 * track_width")
    shot("imported-model")

    tabs = page.get_by_role("navigation", name="Model tabs")
    tabs.get_by_role("link", name="Training").click()
    page.wait_for_function("Number(document.getElementById('reward-graph').dataset.iterations) === 27")
    expect(page.get_by_test_id("start-training")).to_have_count(0)
    shot("original-reward-graph")
    tabs.get_by_role("link", name="Evaluation").click()
    expect(page.get_by_test_id("evaluations").locator("tbody tr")).to_have_count(3)
    shot("original-evaluations")

    page.goto("/garage/")
    expect(page.get_by_text("drfc-sample vehicle")).to_be_visible()

    page.goto("/models/")
    expect(page.get_by_test_id("model-origin").first).to_contain_text("logs model")
    page.get_by_test_id("model-row").filter(has_text="drfc-sample").get_by_role("link", name="Clone").click()
    page.wait_for_function("window.rewardEditor !== undefined")
    assert "marker_1 = 0.1 * track_width" in page.evaluate("window.rewardEditor.getValue()")
    expect(page.get_by_role("table", name="Actions").locator("tbody tr")).to_have_count(14)
    page.locator("details.hyperparameters summary").click()
    page.get_by_label("Number of experience episodes between each policy-updating iteration").fill("5")
    page.get_by_label("Gradient descent batch size").select_option("32")
    shot("clone-wizard")
    page.get_by_role("button", name="Create model").click()

    expect(page.get_by_test_id("model-name")).to_have_text("drfc-sample-clone")
    tabs.get_by_role("link", name="Training").click()
    page.wait_for_function("Number(document.getElementById('reward-graph').dataset.iterations) > 0",
                           timeout=LIVE_TIMEOUT_MS)
    shot("clone-trains")
    page.get_by_test_id("stop-training").click()
    expect(page.get_by_test_id("status-banner").locator('[data-field="status"]')).to_have_text(
        "Completed", timeout=LIVE_TIMEOUT_MS)
    assert console_errors == []
