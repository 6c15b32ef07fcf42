"""The journey after "Create model" (test_models.py): training starts on the real worker → a live video frame
and a reward-graph point arrive over the websocket → Stop training → evaluate 3 laps → the results table
and the replay video show. Screenshots of every step land in test-artifacts/."""

import re
import shutil

import pytest
from playwright.sync_api import expect

from tests.training.jobs_fixtures import make_model

LIVE_TIMEOUT_MS = 180_000  # the worker starts MuJoCo, the reward sandbox and the env process first


@pytest.fixture
def tiny_model(owner):
    # Tiny iterations (2 episodes, 1 epoch) so that a graph point arrives within seconds on a busy machine.
    model = make_model(owner, name="e2e-quick-loop", status="READY",
                       hyperparameters={"num_episodes_between_training": 2, "batch_size": 32, "num_epochs": 1})
    yield model
    shutil.rmtree(model.folder, ignore_errors=True)


def test_it_trains_live_stops_and_evaluates(racer_page, worker, tiny_model, shot):
    page = racer_page
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))

    page.goto(f"/models/{tiny_model.pk}/")
    expect(page.get_by_test_id("training-summary")).to_contain_text("Not started")
    shot("model-page-tabs")
    page.get_by_role("navigation", name="Model tabs").get_by_role("link", name="Training").click()
    page.get_by_test_id("start-training").click()
    expect(page.get_by_test_id("status-banner")).to_be_visible()
    shot("training-queued")

    page.wait_for_function("Number(document.getElementById('sim-video').dataset.frames) > 0", timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_test_id("sim-video")).to_be_visible()
    shot("live-video")
    page.get_by_role("button", name="Car camera").click()
    page.wait_for_function("document.getElementById('sim-video').src.startsWith('data:image/jpeg')")
    page.wait_for_function("Number(document.getElementById('reward-graph').dataset.iterations) > 0",
                           timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#reward-graph .scatterlayer .trace").first).to_be_visible()
    expect(page.get_by_test_id("training-logs")).not_to_be_empty()
    shot("live-graph-point")

    # A network blip: the socket drops, the page reconnects, re-fetches the history and draws nothing twice.
    page.evaluate("document.getElementById('training-page').liveSocket.close()")
    page.wait_for_function("document.getElementById('training-page').dataset.socketState === 'closed'")
    page.wait_for_function("document.getElementById('training-page').dataset.socketState === 'open'",
                           timeout=LIVE_TIMEOUT_MS)
    page.wait_for_function("Number(document.getElementById('reward-graph').dataset.iterations) > 1",
                           timeout=LIVE_TIMEOUT_MS)
    iterations = page.evaluate("document.getElementById('reward-graph').data[0].x")
    assert iterations == sorted(set(iterations)) and len(iterations) >= 2
    page.get_by_label("Show episodes").check()
    assert page.evaluate("document.getElementById('reward-graph').data[4].visible") is True
    assert page.evaluate("document.getElementById('reward-graph').data[4].x.length") >= 4  # 2 episodes/iteration
    log = page.request.get(page.get_by_test_id("download-logs").get_attribute("href"))
    assert log.status == 200 and "SIM_TRACE_LOG:" in log.text()

    page.get_by_test_id("stop-training").click()
    expect(page.get_by_test_id("status-banner").locator('[data-field="status"]')).to_have_text(
        "Completed", timeout=LIVE_TIMEOUT_MS)
    shot("training-stopped")

    page.get_by_role("navigation", name="Model tabs").get_by_role("link", name="Evaluation").click()
    page.get_by_label("Track", exact=True).select_option("quick_loop")
    page.get_by_label("Trials", exact=True).fill("3")
    shot("evaluation-form")
    page.get_by_test_id("start-evaluation").click()
    rows = page.get_by_test_id("evaluation-results").locator("tbody tr:not(.empty)")
    expect(rows).to_have_count(3, timeout=LIVE_TIMEOUT_MS)
    expect(rows.first.locator("td").nth(1)).to_have_text(re.compile(r"^\d\d:\d\d\.\d{3}$"))  # MM:SS.mmm
    expect(page.get_by_test_id("status-banner").locator('[data-field="status"]')).to_have_text(
        "Completed", timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_test_id("evaluation-video")).to_be_visible()
    shot("evaluation-results")
    assert console_errors == []


def test_it_shows_a_job_stopped_by_the_system_resuming_and_continues_a_failed_one(racer_page, tiny_model, shot):
    from django.utils import timezone

    from training import services
    from training.live import broadcast_status
    from training.models import JobStatus, TrainingJob

    page = racer_page
    job = services.training_start(tiny_model, enqueue=False)
    message = "The console stopped while this job ran (SIGINT). Nothing is lost: it resumes by itself."
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.INTERRUPTED, failure_reason=message,
                                                 started_at=timezone.now())
    page.goto(f"/training/models/{tiny_model.pk}/")
    banner = page.get_by_test_id("status-banner")
    expect(banner.locator('[data-field="status"]')).to_have_text("Stopped by the system")
    expect(banner.locator('[data-field="failure"]')).to_have_text(message)
    page.wait_for_function("document.getElementById('training-page').dataset.socketState === 'open'")
    shot("stopped-by-the-system")

    # A worker is back: it claims the job (which clears the message) and says so on the job's group.
    assert TrainingJob.objects.claim(job.pk, "back@host")
    broadcast_status(TrainingJob.objects.get(pk=job.pk))
    expect(banner.locator('[data-field="status"]')).to_have_text("Initializing")
    expect(banner.locator('[data-field="failure"]')).to_be_hidden()

    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, failure_reason="WorkerDied: gone")
    page.reload()
    page.get_by_label("More minutes").fill("2")
    shot("continue-training")
    page.get_by_test_id("continue-training").click()
    # Queued, or already running when a worker of an earlier test is still about.
    expect(banner.locator('[data-field="status"]')).to_have_text(re.compile("Queued|Initializing|In progress"))
    continued = TrainingJob.objects.get(pk=job.pk)
    assert continued.is_active and continued.failure_reason == "" and continued.max_minutes == 2.0
