"""The Analysis tab and the reward preview, tried as a racer would in Chromium: a short training on the real
worker fills the tab live (no reload) and every view shows its data; a re-score with another function
changes the heatmap; a deepracer-for-cloud folder gets the same analysis; the editor's preview is brightest
on the centre line for the centre-line example and on the left for a "stay left" function. Screenshots of
every step land in test-artifacts/."""

import shutil

import pytest
from playwright.sync_api import expect

from models_app.models import ImportedTrack
from tests.training.jobs_fixtures import make_model
from tests.training.test_analysis import DRFC, REINVENT
from training import services

LIVE_TIMEOUT_MS = 240_000  # the worker starts MuJoCo, the reward sandbox and the env process first
STAY_LEFT = '''def reward_function(params):
    return 1.0 if params["is_left_of_center"] else 0.01
'''
ACROSS = 10  # grid points across the road (simulator/reward/preview.py)


@pytest.fixture
def tiny_model(owner):
    model = make_model(owner, name="e2e-analysis", status="READY",
                       hyperparameters={"num_episodes_between_training": 2, "batch_size": 32, "num_epochs": 1})
    yield model
    shutil.rmtree(model.folder, ignore_errors=True)


@pytest.fixture
def drfc_model(owner):
    """A model whose folder is deepracer-for-cloud's published layout (the community's sample logs), on
    its track (re:Invent 2018, imported)."""
    track = ImportedTrack.objects.create(owner=owner, title="reInvent 2018", npy=REINVENT.read_bytes(),
                                         length=17.7, width=0.76)
    model = make_model(owner, name="drfc-logs", track=track.slug, reward_code=(DRFC / "reward_function.py").read_text())
    shutil.copytree(DRFC, model.folder)
    yield model
    shutil.rmtree(model.folder, ignore_errors=True)


def drawn(page, element_id, minimum=1):
    page.wait_for_function(f"Number(document.getElementById('{element_id}').dataset.drawn || 0) >= {minimum}")


def trace_count(page, element_id) -> int:
    return page.evaluate(f"document.getElementById('{element_id}').data.length")


def heatmap_z(page, element_id):
    return page.evaluate(f"document.getElementById('{element_id}').data.find((t) => t.type === 'heatmap').z")


def test_it_fills_the_tab_live_from_a_short_training(racer_page, worker, tiny_model, shot):
    page = racer_page
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    services.training_start(tiny_model, max_iterations=3)

    page.goto(f"/models/{tiny_model.pk}/")
    page.get_by_role("navigation", name="Model tabs").get_by_role("link", name="Analysis").click()
    expect(page.get_by_test_id("analysis-page")).to_be_visible()
    page.evaluate("window.notReloaded = true")
    shot("live-before-first-iteration")
    page.wait_for_function("Number(document.getElementById('analysis-page').dataset.iterations) >= 2",
                           timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded") is True   # the tab grew without a reload
    page.wait_for_function("document.querySelector('[data-range=last]').value >= '1'")
    drawn(page, "track-heatmap")
    shot("live-two-iterations")

    # Per iteration: the means, the completion, lap times and the learner's losses and entropy.
    reward_x = page.evaluate("document.getElementById('chart-reward').data.at(-1).x")
    assert len(reward_x) >= 2
    learner = page.evaluate("document.getElementById('chart-learner').data.map((t) => t.name)")
    assert "entropy" in learner and "policy_loss" in learner
    # Track views: every heatmap kind on the track picture, with the racing line and the exits.
    names = page.evaluate("document.getElementById('track-heatmap').data.map((t) => t.name)")
    assert {"Racing line", "Off track", "Crashed"} <= set(names)
    assert any(value is not None for row in heatmap_z(page, "track-heatmap") for value in row)
    for kind in ("Reward", "Speed", "Steering"):
        before = page.evaluate("Number(document.getElementById('track-heatmap').dataset.drawn)")
        page.get_by_role("group", name="Heatmap").get_by_role("button", name=kind).click()
        drawn(page, "track-heatmap", before + 1)
        shot(f"heatmap-{kind.lower()}")
    # Actions, overall and per section, and their distributions over the iterations.
    assert sum(page.evaluate("document.getElementById('actions-overall').data[0].y")) > 0
    assert trace_count(page, "actions-sections") == 3
    drawn(page, "steering-distribution")
    # Laps: a table (fastest first) and the best lap, or a plain word when none completed yet.
    drawn(page, "lap-best")
    expect(page.get_by_test_id("lap-table")).to_be_visible()
    page.get_by_test_id("actions-overall").scroll_into_view_if_needed()
    shot("laps-and-actions")

    # The episode player: scrub to the last step and read the params the reward function saw.
    options = page.get_by_test_id("episode-select").locator("option")
    assert options.count() >= 4
    scrub = page.get_by_test_id("episode-scrub")
    last = int(scrub.get_attribute("max"))
    scrub.evaluate(f"(el) => {{ el.value = '{last}'; el.dispatchEvent(new Event('input')); }}")
    params = page.get_by_test_id("episode-params")
    expect(params.locator("[data-param=steps]")).to_have_text(str(last + 1))
    expect(params.locator("[data-param=status]")).not_to_have_text("in_progress")
    page.get_by_test_id("episode-track").scroll_into_view_if_needed()
    shot("episode-player")

    # Re-score with a "stay left" function: its heatmap differs from the recorded one.
    page.get_by_test_id("rescore-code").fill(STAY_LEFT)
    page.get_by_test_id("rescore-button").click()
    drawn(page, "rescore-new")
    original, rescored = heatmap_z(page, "rescore-original"), heatmap_z(page, "rescore-new")
    assert original != rescored
    page.get_by_test_id("rescore-new").scroll_into_view_if_needed()
    shot("rescored")
    assert problems == []
    # A broken function shows its error at its line (the browser logs the 400 answer).
    page.get_by_test_id("rescore-code").fill("def reward_function(params):\n    return params['nope']\n")
    page.get_by_test_id("rescore-button").click()
    expect(page.get_by_test_id("rescore-errors")).to_contain_text("Line 2")
    shot("rescore-error")


def test_it_analyses_a_deepracer_for_cloud_folder(racer_page, drfc_model, shot):
    page = racer_page
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"/training/models/{drfc_model.pk}/analysis/")
    drawn(page, "chart-reward")
    drawn(page, "track-heatmap")
    assert len(page.evaluate("document.getElementById('chart-reward').data.at(-1).x")) == 27
    shot("drfc-iterations")
    rows = page.get_by_test_id("lap-table").locator("tbody tr")
    expect(rows.first).to_be_visible()
    # Side by side: the two fastest laps are ticked; their sector times are compared.
    expect(page.get_by_test_id("sector-compare").locator("tbody tr")).to_have_count(2)
    rows.nth(2).locator("input[type=checkbox]").check()
    expect(page.get_by_test_id("sector-compare").locator("tbody tr")).to_have_count(2)
    page.get_by_test_id("lap-compare-a").scroll_into_view_if_needed()
    shot("drfc-laps-side-by-side")
    # All evaluation laps overlaid.
    drawn(page, "evaluation-paths")
    trials = page.evaluate("document.getElementById('evaluation-paths').data.filter((t) => t.name && "
                           "t.name.startsWith('Trial')).length")
    assert trials >= 3
    page.get_by_test_id("evaluation-paths").scroll_into_view_if_needed()
    shot("drfc-evaluation")
    # The episode player plays an evaluation trial too.
    page.get_by_test_id("episode-source").select_option(index=1)
    expect(page.get_by_test_id("episode-select").locator("option").first).to_contain_text("Trial 1")
    page.wait_for_function("document.querySelector('[data-param=steps]') && "
                           "document.querySelector('[data-testid=episode-select]').value === '0:0'")
    page.get_by_test_id("episode-track").scroll_into_view_if_needed()
    shot("drfc-evaluation-trial-player")
    assert len(page.evaluate("document.getElementById('actions-overall').data[0].x")) == 14
    page.set_viewport_size({"width": 1366, "height": 768})   # a laptop: nothing wider than the window
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    shot("drfc-laptop")
    assert problems == []


def test_it_hides_the_tab_from_a_stranger(page, sign_in, stranger, drfc_model):
    sign_in(stranger)
    assert page.goto(f"/training/models/{drfc_model.pk}/analysis/").status == 404


def preview_profile(page):
    """Mean reward of each of the ACROSS points across the road (right border to left)."""
    colours = page.evaluate("document.getElementById('reward-preview').data.find((t) => t.name === 'Reward')"
                            ".marker.color")
    rows = [colours[i:i + ACROSS] for i in range(0, len(colours), ACROSS)]
    return [sum(row[j] for row in rows) / len(rows) for j in range(ACROSS)]


def test_it_previews_a_reward_function_before_training(racer_page, shot):
    page = racer_page
    page.goto("/models/create/")
    page.get_by_test_id("preview-code").click()   # the default code: follow the centre line
    page.wait_for_function("Number(document.getElementById('reward-preview').dataset.points) === 2000")
    profile = preview_profile(page)
    assert profile.index(max(profile)) in (ACROSS // 2 - 1, ACROSS // 2) and profile[0] < max(profile)
    page.get_by_test_id("reward-preview").scroll_into_view_if_needed()
    shot("preview-centre-line")

    page.evaluate(f"window.rewardEditor.setValue({STAY_LEFT!r}, -1)")
    page.evaluate("document.getElementById('reward-preview').dataset.points = ''")
    page.get_by_test_id("preview-code").click()
    page.wait_for_function("Number(document.getElementById('reward-preview').dataset.points) === 2000")
    profile = preview_profile(page)
    assert profile[-1] == max(profile) and profile[0] < 0.1
    shot("preview-stay-left")

    page.evaluate("window.rewardEditor.setValue('def reward_function(params):\\n    return params[\"x\"] / 0\\n', -1)")
    page.get_by_test_id("preview-code").click()
    expect(page.locator("#validation-errors li").first).to_contain_text("Line 2")
    shot("preview-error-at-its-line")

    page.get_by_test_id("insert-racing-line").click()
    page.wait_for_function("window.rewardEditor.getValue().includes('RACING_LINE = [[')")
    assert page.locator("[data-racing-line]").count() >= 1   # drawn on the track picker too
    shot("racing-line-inserted")

    # An example that reads the racing line comes with the chosen track's line above it.
    page.select_option("#example-picker", "speed_on_racing_line")
    page.click("#insert-example")
    page.wait_for_function("window.rewardEditor.getValue().startsWith('# The console\\'s racing line')")
    code = page.evaluate("window.rewardEditor.getValue()")
    assert code.count("RACING_LINE = [[") == 1 and "def reward_function(params):" in code
