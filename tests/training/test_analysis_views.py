"""The Analysis tab and its REST endpoints: the owner sees every view, a stranger gets 404, bad input 400;
a deepracer-for-cloud folder laid out as our model folder gets the same analysis."""

import shutil

import numpy as np
import pytest
from django.urls import reverse

from models_app.models import ImportedTrack
from tests.training.jobs_fixtures import make_model
from tests.training.test_analysis import DRFC, ITERATION_0, ITERATION_1, REINVENT, write_trace

ENDPOINTS = ["summary", "heatmap", "exits", "laps", "actions", "episodes"]
STAY_LEFT = '''
def reward_function(params):
    return 1.0 if params["is_left_of_center"] else 0.0
'''


@pytest.fixture(autouse=True)
def _store(settings, tmp_path):
    settings.MODEL_STORE = tmp_path / "models"
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def logged_model(owner):
    model = make_model(owner, track="oval")
    write_trace(model.folder / "training-simtrace" / "0-iteration.csv", ITERATION_0)
    write_trace(model.folder / "training-simtrace" / "1-iteration.csv", ITERATION_1)
    write_trace(model.folder / "evaluation-20260101120000" / "evaluation-simtrace" / "0-iteration.csv", ITERATION_1)
    return model


@pytest.fixture
def drfc_model(owner):
    """deepracer-for-cloud's sample folder as a model on its track (re:Invent 2018, imported)."""
    track = ImportedTrack.objects.create(owner=owner, title="reInvent 2018", npy=REINVENT.read_bytes(),
                                         length=17.7, width=0.76)
    model = make_model(owner, name="Drfc-Logs", track=track.slug,
                       reward_code=(DRFC / "reward_function.py").read_text())
    shutil.copytree(DRFC, model.folder)
    return model


def api(name, model, **query):
    url = reverse(f"training:analysis-{name}", args=[model.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_it_shows_the_analysis_tab_to_the_owner(owner_client, logged_model):
    response = owner_client.get(reverse("training:analysis", args=[logged_model.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="analysis-page"' in page and "training/analysis.js" in page
    assert "vendor/plotly/plotly.min.js" in page and "cdn" not in page.lower()
    assert api("summary", logged_model) in page
    assert 'value="0"' in page and 'value="1"' in page   # the iteration range
    assert "2026-01-01 12:00:00" in page                 # the evaluation


def test_it_says_when_there_are_no_logs_yet(owner_client, owner):
    model = make_model(owner)
    page = owner_client.get(reverse("training:analysis", args=[model.pk])).content.decode()
    assert 'data-testid="analysis-empty"' in page and "analysis.js" not in page


def test_it_links_the_tab_from_the_other_tabs(owner_client, logged_model):
    page = owner_client.get(reverse("training:model", args=[logged_model.pk])).content.decode()
    assert reverse("training:analysis", args=[logged_model.pk]) in page


def test_it_hides_everything_from_a_stranger(stranger_client, logged_model):
    assert stranger_client.get(reverse("training:analysis", args=[logged_model.pk])).status_code == 404
    for name in ENDPOINTS:
        assert stranger_client.get(api(name, logged_model)).status_code == 404, name
    assert stranger_client.get(api("episode", logged_model, iteration=0, episode=0)).status_code == 404
    assert stranger_client.post(api("rescore", logged_model), {"code": STAY_LEFT},
                                content_type="application/json").status_code == 404


def test_it_refuses_anonymous_visitors(client, logged_model):
    assert client.get(reverse("training:analysis", args=[logged_model.pk])).status_code == 302
    assert client.get(api("summary", logged_model)).status_code in (401, 403)


def test_it_refuses_wrong_methods(owner_client, logged_model):
    assert owner_client.post(reverse("training:analysis", args=[logged_model.pk])).status_code == 405
    assert owner_client.post(api("summary", logged_model)).status_code == 405
    assert owner_client.get(api("rescore", logged_model)).status_code == 405


def test_it_serves_every_view_as_json(owner_client, logged_model):
    summary = owner_client.get(api("summary", logged_model)).json()
    assert summary["iterations"]["mean_reward"] == [4.5, 10.0]
    assert summary["evaluations"] == ["20260101120000"]
    assert summary["track"]["title"] and len(summary["racing_line"]["points"]) > 100
    heatmap = owner_client.get(api("heatmap", logged_model, kind="reward", first=1, last=1)).json()
    assert heatmap["steps"] == 3
    assert owner_client.get(api("exits", logged_model)).json()["off_track"]["x"] == [2.0]
    laps = owner_client.get(api("laps", logged_model, first=0, last=0)).json()["laps"]
    assert [lap["time"] for lap in laps] == [3.0]
    assert owner_client.get(api("actions", logged_model)).json()["overall"][:3] == [2, 2, 3]
    assert len(owner_client.get(api("episodes", logged_model)).json()["episodes"]) == 3
    episode = owner_client.get(api("episode", logged_model, iteration=0, episode=1)).json()
    assert episode["reward"] == [0.0, 2.0, 2.0, 2.0]
    evaluation = owner_client.get(api("evaluation", logged_model, evaluation="20260101120000")).json()
    assert evaluation["trials"][0]["status"] == "lap_complete"


def test_it_answers_bad_requests_with_the_field(owner_client, logged_model):
    assert "kind" in owner_client.get(api("heatmap", logged_model, kind="colour")).json()
    assert "first" in owner_client.get(api("heatmap", logged_model, first="x")).json()
    assert "first" in owner_client.get(api("laps", logged_model, first=3, last=1)).json()
    assert owner_client.get(api("episode", logged_model, iteration=0, episode=9)).status_code == 404
    assert owner_client.get(api("episode", logged_model)).status_code == 400
    assert owner_client.get(api("evaluation", logged_model, evaluation="20990101000000")).status_code == 404


def test_it_offers_the_examples_with_the_models_racing_line_where_they_read_one(owner_client, logged_model):
    from simulator.reward.examples import racing_line_code
    from simulator.tracks import get_track

    examples = owner_client.get(reverse("training:analysis", args=[logged_model.pk])).context["examples"]
    reading = [example for example in examples if example["racing_line"]]
    assert reading and all(example["code"].startswith(racing_line_code(get_track("oval"))) for example in reading)
    assert all("RACING_LINE = " not in example["code"] for example in examples if not example["racing_line"])


def test_it_rescores_with_another_function(owner_client, logged_model):
    response = owner_client.post(api("rescore", logged_model), {"code": STAY_LEFT, "first": 0, "last": 1},
                                 content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["steps"] == 10 and not body["truncated"]
    assert body["episodes"]["original"] == [3.0, 6.0, 10.0]
    assert all(total in (0.0, 1.0, 2.0, 3.0) for total in body["episodes"]["rescored"])
    assert body["original"]["z"] != body["rescored"]["z"]


def test_it_shows_a_rescore_error_at_its_line(owner_client, logged_model):
    code = "def reward_function(params):\n    return params['no_such_key']\n"
    response = owner_client.post(api("rescore", logged_model), {"code": code}, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["code"][0]
    assert error["line"] == 2 and "no_such_key" in error["message"]
    assert "code" in owner_client.post(api("rescore", logged_model), {}, content_type="application/json").json()


def test_it_analyses_a_deepracer_for_cloud_folder(owner_client, drfc_model):
    page = owner_client.get(reverse("training:analysis", args=[drfc_model.pk])).content.decode()
    assert 'data-testid="analysis-page"' in page
    summary = owner_client.get(api("summary", drfc_model)).json()
    assert summary["iterations"]["iteration"] == list(range(27)) and len(summary["evaluations"]) == 3
    assert summary["iterations"]["losses"] == {"iteration": []}
    actions = owner_client.get(api("actions", drfc_model, first=20, last=26)).json()
    assert len(actions["labels"]) == 14
    # Re-scoring with the model's own function gives back what training recorded, nearly everywhere.
    body = owner_client.post(api("rescore", drfc_model), {"code": drfc_model.reward_code, "first": 0, "last": 1},
                             content_type="application/json").json()
    original, rescored = np.array(body["episodes"]["original"]), np.array(body["episodes"]["rescored"])
    assert len(original) == 40 and np.mean(np.isclose(original, rescored, atol=1e-3)) > 0.8


def test_it_opens_the_tab_of_a_training_that_has_no_logs_yet(owner_client, owner):
    from training import services

    model = make_model(owner)
    job = services.training_start(model, enqueue=False)
    page = owner_client.get(reverse("training:analysis", args=[model.pk])).content.decode()
    assert f'data-socket="/ws/training/{job.pk}/"' in page and "training/live_job.js" in page
    summary = owner_client.get(api("summary", model)).json()
    assert summary["iterations"]["iteration"] == [] and summary["job"]["id"] == job.pk
    for name in ("heatmap", "exits", "laps", "actions", "episodes"):
        assert owner_client.get(api(name, model)).status_code == 200, name


def test_it_caches_the_parsed_traces_outside_the_folder_until_the_model_goes(owner_client, logged_model):
    from models_app.services import model_delete

    owner_client.get(api("summary", logged_model))
    cache = logged_model.analysis_cache
    assert len(list(cache.glob("*.npz"))) == 2 and not list(logged_model.folder.rglob("*.npz"))
    model_delete(logged_model)
    assert not cache.exists()


def test_it_documents_the_endpoints_in_the_schema(owner_client):
    paths = owner_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for name in ("summary", "heatmap", "exits", "laps", "actions", "episodes", "episode", "evaluation", "rescore"):
        assert f"/training/api/analysis/{{id}}/{name}/" in paths, name
    assert "/api/reward/preview/" in paths and "/api/reward/racing-line/" in paths


def test_it_serves_a_notebook_with_an_api_token(owner, logged_model):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    assert client.get(api("laps", logged_model)).json()["laps"][0]["time"] == 2.0
