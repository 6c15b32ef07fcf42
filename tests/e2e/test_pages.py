"""Every page a racer meets, at a laptop's and a large monitor's size: no console errors (a missing script
or style, a failed request) and nothing wider than the window. Screenshots of each land in test-artifacts/."""

import shutil

import pytest
from playwright.sync_api import expect

from tests.training.jobs_fixtures import make_model
from training.models import EvaluationJob, JobStatus, TrainingJob

LAPTOP = {"width": 1366, "height": 768}
LARGE_MONITOR = {"width": 2560, "height": 1440}
VISITOR_PAGES = {"landing": "/", "sign-up": "/accounts/signup/", "sign-in": "/accounts/login/"}
RACER_PAGES = {
    "get-started": "/", "garage": "/garage/", "build-vehicle": "/garage/new/", "models": "/models/",
    "create-model": "/models/create/", "import-model": "/models/import/", "tracks": "/models/tracks/",
    "profile": "/accounts/profile/", "api-token": "/models/api-token/", "api-docs": "/api/docs/",
}


@pytest.fixture
def trained_model(owner):
    model = make_model(owner, name="page-tour")
    TrainingJob.objects.create(
        model=model, status=JobStatus.COMPLETED, max_minutes=10, last_iteration=2, best_iteration=2,
        metrics=[{"iteration": number, "average_reward": 10.0 * number, "average_training_completion": 20.0 * number,
                  "average_evaluation_completion": 25.0 * number, "best": number == 2} for number in (1, 2)])
    evaluation = EvaluationJob.objects.create(
        model=model, track="quick_loop", status=JobStatus.COMPLETED,
        results=[{"trial": trial, "time": "00:12.500", "time_seconds": 12.5, "completion": 100.0,
                  "status": "lap_complete", "off_track_count": 0, "off_track_penalty": 0.0, "crash_count": 0,
                  "crash_penalty": 0.0, "reset_count": 0, "steps": 190} for trial in (1, 2, 3)])
    yield model, evaluation
    shutil.rmtree(model.folder, ignore_errors=True)


def _model_pages(model, evaluation) -> dict:
    return {"model": f"/models/{model.pk}/", "training": f"/training/models/{model.pk}/",
            "evaluation-tab": f"/training/models/{model.pk}/evaluation/",
            "analysis-tab": f"/training/models/{model.pk}/analysis/",
            "evaluation": f"/training/evaluations/{evaluation.pk}/", "clone": f"/models/{model.pk}/clone/"}


def _visit_all(page, shot, pages: dict, viewport: dict):
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(f"{page.url}: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    page.set_viewport_size(viewport)
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, f"{name} ({url}) answered {response.status}"
        page.wait_for_load_state("networkidle")
        expect(page.locator("h1").first).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} ({url}) is {overflow}px wider than the {viewport['width']}px window"
        shot(f"{name}-{viewport['width']}")
    assert problems == []


@pytest.mark.parametrize("viewport", [LAPTOP, LARGE_MONITOR], ids=["1366", "2560"])
def test_it_shows_every_visitor_page_cleanly(page, shot, viewport):
    _visit_all(page, shot, VISITOR_PAGES, viewport)


@pytest.mark.parametrize("viewport", [LAPTOP, LARGE_MONITOR], ids=["1366", "2560"])
def test_it_shows_every_racer_page_cleanly(racer_page, shot, trained_model, viewport):
    _visit_all(racer_page, shot, {**RACER_PAGES, **_model_pages(*trained_model)}, viewport)
