"""/api/reward/preview/ and /api/reward/racing-line/: the editor's preview and racing line."""

import numpy as np
from django.urls import reverse

from simulator.reward.examples import EXAMPLES
from simulator.reward.preview import ACROSS

STAY_LEFT = '''
def reward_function(params):
    return 1.0 if params["is_left_of_center"] else 0.1
'''


def post(client, **data):
    body = {"track": "quick_loop", **data}
    return client.post(reverse("api-preview-reward"), body, content_type="application/json")


def test_it_previews_the_centre_line_example_brightest_in_the_middle(owner_client):
    response = post(owner_client, code=EXAMPLES["follow_center_line"].code, points=500)
    assert response.status_code == 200, response.content
    body = response.json()
    profile = np.array(body["reward"]).reshape(-1, ACROSS).mean(axis=0)
    assert profile.argmax() in (ACROSS // 2 - 1, ACROSS // 2)
    assert body["track"]["centre"]["x"] and len(body["racing_line"]["points"]) > 50


def test_it_previews_a_stay_left_function_brightest_on_the_left(owner_client):
    body = post(owner_client, code=STAY_LEFT, points=200, speed=2.0, heading_offset=10).json()
    profile = np.array(body["reward"]).reshape(-1, ACROSS).mean(axis=0)
    assert profile[-1] == 1.0 and profile[0] < 0.2


def test_it_shows_errors_at_their_line(owner_client):
    response = post(owner_client, code="def reward_function(params):\n    return 1 / 0\n", points=100)
    assert response.status_code == 400
    assert response.json()["code"][0]["line"] == 2


def test_it_names_the_bad_field(owner_client):
    assert "speed" in post(owner_client, code=STAY_LEFT, speed=9).json()
    assert "track" in post(owner_client, code=STAY_LEFT, track="nowhere").json()
    assert "race_type" in post(owner_client, code=STAY_LEFT, race_type={"race_type": "DRAG"}).json()


def test_it_refuses_anonymous_callers_and_wrong_methods(client, owner_client):
    assert post(client, code=STAY_LEFT).status_code in (401, 403)
    assert owner_client.get(reverse("api-preview-reward")).status_code == 405


def test_it_gives_the_racing_line_of_a_track(owner_client, stranger_client, owner):
    from models_app.models import ImportedTrack
    from tests.training.test_analysis import REINVENT

    response = owner_client.get(reverse("api-racing-line") + "?track=oval&track_reversed=true")
    body = response.json()
    assert response.status_code == 200 and len(body["points"]) == len(body["speeds"]) and body["lap_time"] > 0
    # The lines the editor inserts: the same points, as RACING_LINE.
    namespace = {}
    exec(body["code"], namespace)
    assert namespace["RACING_LINE"] == body["points"]
    imported = ImportedTrack.objects.create(owner=owner, title="reInvent", npy=REINVENT.read_bytes(), length=17.7,
                                            width=0.76)
    assert owner_client.get(reverse("api-racing-line") + f"?track={imported.slug}").status_code == 200
    # Someone else's imported track is unknown to a stranger.
    assert "track" in stranger_client.get(reverse("api-racing-line") + f"?track={imported.slug}").json()
