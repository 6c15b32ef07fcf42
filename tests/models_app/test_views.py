import io
import json
import tarfile
import time

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from models_app.models import ImportedTrack, RLModel, Status
from tests.models_app.conftest import make_model
from training import queue, services
from training.models import HeatJob

MODEL_PAGES = ("models:detail", "models:clone", "models:delete", "models:download", "models:car_bundle")


def _untar(response) -> dict:
    data = b"".join(response.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {member.name: tar.extractfile(member).read() for member in tar if member.isfile()}


def test_it_lists_only_my_models(owner_client, owner, stranger):
    make_model(owner, name="mine")
    make_model(stranger, name="theirs")
    page = owner_client.get(reverse("models:list"))
    assert [m.name for m in page.context["models"]] == ["mine"]
    assert b"Quick Loop" in page.content and b"Create model" in page.content


def test_it_shows_the_model_page(owner_client, model):
    page = owner_client.get(reverse("models:detail", args=[model.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert model.name in content and "Queued" in content
    assert "Camera" in content and "3-layer CNN" in content and "<svg" in content
    assert "reward_function(params)" in content and "Learning rate" in content
    assert "training/model_tabs.html" in [t.name for t in page.templates]  # the training app provides the tabs


def test_it_hides_my_model_from_a_stranger(stranger_client, model):
    for name in MODEL_PAGES:
        assert stranger_client.get(reverse(name, args=[model.pk])).status_code == 404, name
    assert stranger_client.post(reverse("models:delete", args=[model.pk])).status_code == 404
    assert RLModel.objects.filter(pk=model.pk).exists()


def test_it_requires_sign_in(client, model):
    for name in MODEL_PAGES:
        assert client.get(reverse(name, args=[model.pk])).status_code == 302
    for name in ("models:list", "models:create", "models:import", "models:api_token"):
        assert client.get(reverse(name)).status_code == 302


def test_it_refuses_wrong_methods(owner_client, model):
    assert owner_client.post(reverse("models:list")).status_code == 405
    for name in ("models:detail", "models:download", "models:car_bundle"):
        assert owner_client.post(reverse(name, args=[model.pk])).status_code == 405


def test_it_deletes_a_model_and_its_folder(owner_client, model):
    model.folder.mkdir(parents=True)
    (model.folder / "reward_function.py").write_text("x")
    assert owner_client.get(reverse("models:delete", args=[model.pk])).status_code == 200
    response = owner_client.post(reverse("models:delete", args=[model.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("models:list")
    assert not RLModel.objects.filter(pk=model.pk).exists()
    assert not model.folder.exists()


def test_it_deletes_the_replays_of_the_models_heats_with_it(owner_client, owner, model):
    opponent = make_model(owner, name="Opponent")
    raced = HeatJob.objects.create(model=opponent, opponent=model, requested_by=owner, track="quick_loop")
    kept = HeatJob.objects.create(model=opponent, opponent=make_model(owner, name="Third"), requested_by=owner,
                                  track="quick_loop")
    for job in (raced, kept):
        job.folder.mkdir(parents=True)
        (job.folder / "replay.mp4").write_bytes(b"mp4")
    owner_client.post(reverse("models:delete", args=[model.pk]))
    assert not HeatJob.objects.filter(pk=raced.pk).exists() and not raced.folder.exists()
    assert kept.folder.exists(), "another heat's replay was deleted"


def test_it_refuses_to_delete_a_model_in_training(owner_client, model):
    RLModel.objects.filter(pk=model.pk).update(status=Status.TRAINING)
    owner_client.post(reverse("models:delete", args=[model.pk]))
    assert RLModel.objects.filter(pk=model.pk).exists()


def test_it_downloads_the_model_folder_as_tar_gz(owner_client, model):
    (model.folder / "training-simtrace").mkdir(parents=True)
    (model.folder / "training-simtrace" / "0-iteration.csv").write_text("episode,steps\n")
    response = owner_client.get(reverse("models:download", args=[model.pk]))
    assert response["Content-Type"] == "application/gzip"
    assert 'filename="my-model.tar.gz"' in response["Content-Disposition"]
    files = _untar(response)
    assert json.loads(files["my-model/model/model_metadata.json"])["action_space_type"] == "discrete"
    assert files["my-model/reward_function.py"].decode() == model.reward_code
    assert json.loads(files["my-model/ip/hyperparameters.json"])["lr"] == 0.0003
    assert files["my-model/training-simtrace/0-iteration.csv"] == b"episode,steps\n"


def test_it_downloads_the_car_bundle_once_there_is_one(owner_client, model):
    assert owner_client.get(reverse("models:car_bundle", args=[model.pk])).status_code == 404
    model.car_bundle_source.parent.mkdir(parents=True)
    model.car_bundle_source.write_bytes(b"onnx bytes")
    assert b"Download car bundle" in owner_client.get(reverse("models:detail", args=[model.pk])).content
    files = _untar(owner_client.get(reverse("models:car_bundle", args=[model.pk])))
    assert files["agent/model.onnx"] == b"onnx bytes"
    assert json.loads(files["model_metadata.json"])["sensor"] == ["FRONT_FACING_CAMERA"]


def test_it_shows_and_regenerates_my_api_token(owner_client, owner):
    page = owner_client.get(reverse("models:api_token"))
    assert page.context["token"] is None
    owner_client.post(reverse("models:api_token"))
    first = Token.objects.get(user=owner).key
    assert first in owner_client.get(reverse("models:api_token")).content.decode()
    owner_client.post(reverse("models:api_token"))
    assert Token.objects.get(user=owner).key != first


@pytest.mark.parametrize("url", ["/api/docs/", "/api/schema/"])
def test_it_documents_the_api(owner_client, url):
    page = owner_client.get(url)
    assert page.status_code == 200
    assert b"/api/models/" in page.content and b"/api/reward/validate/" in page.content


def test_it_serves_the_api_docs_for_reading_only(owner_client):
    assert owner_client.post("/api/docs/").status_code == 405


def test_it_says_what_every_endpoint_does(owner_client):
    operations = owner_client.get("/api/docs/").context["operations"]
    assert all(operation["summary"] for operation in operations), [op["route"] for op in operations if not op["summary"]]
    summaries = {(operation["method"], operation["route"]): operation["summary"] for operation in operations}
    assert summaries["GET", "/api/vehicles/{id}/"] == "One of your vehicles."
    assert summaries["POST", "/training/api/training-jobs/"] == "Create a training job."
    assert "?warnings=1" in summaries["POST", "/api/reward/validate/"]  # the whole first paragraph


def test_it_lists_models_on_imported_tracks_without_a_query_per_row(owner_client, owner, queries_of,
                                                                    django_assert_max_num_queries):
    track = ImportedTrack.objects.create(owner=owner, title="Backyard Oval", npy=b"", length=20, width=1)
    make_model(owner, name="first", track=track.slug)
    one_row = queries_of(lambda: owner_client.get(reverse("models:list")))
    for number in range(4):
        make_model(owner, name=f"clone-{number}", track=track.slug, parent=RLModel.objects.get(name="first"))
    with django_assert_max_num_queries(one_row):
        page = owner_client.get(reverse("models:list"))
    assert page.content.decode().count("Backyard Oval") == 5 and "clone of first" in page.content.decode()


def test_it_keeps_a_stranger_from_cloning_my_model(stranger_client, model, wizard):
    response = stranger_client.post(reverse("models:clone", args=[model.pk]), {**wizard, "name": "stolen"})
    assert response.status_code == 404 and not RLModel.objects.filter(name="stolen").exists()


def test_it_sends_anonymous_visitors_to_sign_in_before_any_change(client, model):
    for url in (reverse("models:create"), reverse("models:clone", args=[model.pk]), reverse("models:api_token"),
                reverse("models:tracks"), reverse("models:delete", args=[model.pk])):
        assert client.post(url).status_code == 302, url
    assert RLModel.objects.filter(pk=model.pk).exists() and not Token.objects.exists()


def test_it_refuses_wrong_methods_on_the_forms(owner_client, model):
    for url in (reverse("models:create"), reverse("models:import"), reverse("models:api_token"),
                reverse("models:tracks"), reverse("models:clone", args=[model.pk]),
                reverse("models:delete", args=[model.pk])):
        assert owner_client.put(url).status_code == 405, url


# -- the fair queue in the models list: a room of racers polls it (static/models_app/list.js) ---------------------


def _waiting(owner, name):
    """A model waiting in the fair queue (no worker message is sent: nothing takes it)."""
    return services.training_start(make_model(owner, name=name), enqueue=False)


def _poll(client, job) -> int | None:
    place = client.get(reverse("models:queue")).json()["models"].get(str(job.model_id))
    return place and place["position"]


def test_it_shows_each_waiting_models_place_without_a_query_per_row(owner_client, owner, stranger, queries_of,
                                                                    django_assert_max_num_queries):
    _waiting(stranger, "ahead")
    _waiting(owner, "first")
    one = queries_of(lambda: owner_client.get(reverse("models:list")))
    for number in range(4):
        _waiting(owner, f"more-{number}")
        _waiting(stranger, f"theirs-{number}")
    queue.forget_recent_places()  # not through a worker message: the list would show them within seconds
    with django_assert_max_num_queries(one):
        page = owner_client.get(reverse("models:list"))
    # Round-robin: the stranger queued first, so each round is theirs, then mine.
    assert {model.name: model.queue_place["position"] for model in page.context["models"]} == {
        "first": 2, "more-0": 4, "more-1": 6, "more-2": 8, "more-3": 10}
    assert page.content.decode().count('data-field="position">') == 5


def test_it_polls_the_places_of_a_whole_room_from_one_computation(owner_client, stranger_client, owner, stranger,
                                                                 django_assert_max_num_queries):
    mine, theirs = _waiting(owner, "mine"), _waiting(stranger, "theirs")
    assert owner_client.get(reverse("models:queue")).json() == {"models": {str(mine.model_id): {
        "position": 1, "estimated_start": services.job_place(mine)["estimated_start"]}}}
    with django_assert_max_num_queries(3):  # the session, the user and the racer name: the places are shared
        assert _poll(stranger_client, theirs) == 2


def test_it_moves_a_place_up_at_once_here_and_within_seconds_from_another_host(owner_client, owner, stranger,
                                                                               monkeypatch):
    monkeypatch.setattr(queue, "PLACES_FRESH_SECONDS", 0.5)
    ahead, mine, later = _waiting(stranger, "ahead"), _waiting(owner, "mine"), _waiting(stranger, "later")
    assert _poll(owner_client, mine) == 2
    services.training_stop(ahead)  # in this process: every page hears the new places at once
    assert _poll(owner_client, mine) == 1
    assert queue.claim_next("training@elsewhere").pk == mine.pk  # a worker on another host takes it ...
    time.sleep(0.6)
    assert _poll(owner_client, mine) is None  # ... and the list's next poll, seconds later, knows
    assert services.job_place(later)["position"] == 1
