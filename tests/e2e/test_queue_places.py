"""A waiting job's place in the fair queue, on its training page and in the models list, moving up live as
the job ahead of it leaves the queue (no worker takes them here: the jobs are queued without a message)."""

import shutil

import pytest
from playwright.sync_api import expect

from tests.training.jobs_fixtures import make_model


@pytest.fixture
def two_models(owner):
    models = [make_model(owner, name=f"e2e-queued-{n}", status="READY") for n in range(2)]
    yield models
    for model in models:
        shutil.rmtree(model.folder, ignore_errors=True)


def test_it_shows_the_place_in_the_queue_and_moves_it_up_live(racer_page, two_models, shot):
    from training import services

    ahead, behind = (services.training_start(model, enqueue=False) for model in two_models)
    page = racer_page
    page.goto(f"/training/models/{two_models[1].pk}/")
    place = page.get_by_test_id("queue-place")
    expect(place.locator('[data-field="queue-position"]')).to_have_text("2")
    page.wait_for_function("document.getElementById('training-page').dataset.socketState === 'open'")
    shot("second-in-the-queue")

    services.training_stop(ahead)  # the job ahead leaves the queue: the page hears its new place
    expect(place.locator('[data-field="queue-position"]')).to_have_text("1")
    shot("first-in-the-queue")

    page.goto("/models/")
    row = page.get_by_test_id("model-row").filter(has_text=two_models[1].name)
    expect(row.locator('[data-field="position"]')).to_have_text("1")
    expect(page.get_by_test_id("model-row").filter(has_text=two_models[0].name).locator("[data-queue-model]")).to_be_hidden()
    services.training_stop(behind)


LIVE_TIMEOUT_MS = 300_000  # one-iteration jobs on the session's real worker, on a shared machine
TINY = {"num_episodes_between_training": 2, "batch_size": 32, "num_epochs": 1}


@pytest.fixture
def three_models(owner):
    models = [make_model(owner, name=f"e2e-turn-{n}", status="READY", hyperparameters=TINY) for n in range(3)]
    yield models
    for model in models:
        shutil.rmtree(model.folder, ignore_errors=True)


def test_it_moves_the_place_up_live_as_the_jobs_ahead_finish_on_a_real_worker(racer_page, worker, three_models,
                                                                              shot):
    from training import services
    from training.models import JobStatus, TrainingJob

    first, second, third = (services.training_start(model, max_iterations=1) for model in three_models)
    page = racer_page
    page.goto(f"/training/models/{three_models[2].pk}/")
    position = page.get_by_test_id("queue-place").locator('[data-field="queue-position"]')
    # Second in line once the worker has taken the first job (third before that; the page hears either).
    expect(position).to_have_text("2", timeout=LIVE_TIMEOUT_MS)
    shot("second-behind-a-running-job")
    expect(position).to_have_text("1", timeout=LIVE_TIMEOUT_MS)  # the first job finished: the second runs
    assert TrainingJob.objects.get(pk=first.pk).status == JobStatus.COMPLETED
    shot("next-in-line")
    expect(page.get_by_test_id("queue-place")).to_be_hidden(timeout=LIVE_TIMEOUT_MS)  # its own turn
    assert TrainingJob.objects.get(pk=second.pk).status == JobStatus.COMPLETED
    third = TrainingJob.objects.get(pk=third.pk)
    if third.is_active:  # it need not finish for this test
        services.training_stop(third)
