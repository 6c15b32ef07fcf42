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
