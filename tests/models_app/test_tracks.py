import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from models_app.models import ImportedTrack, RLModel
from tests.models_app.conftest import make_model

# Real DeepRacer files live in the folder `shared` beside the repository checkout (never in the repository).
SHARED_TRACKS = next(
    (folder / "shared" / "tracks" for folder in Path(__file__).resolve().parents[2:]
     if (folder / "shared" / "tracks").is_dir()),
    Path(__file__).resolve().parents[2] / ".." / "shared" / "tracks",
)
REINVENT_2018 = SHARED_TRACKS / "reinvent_base.npy"


def npy_upload(array) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return SimpleUploadedFile("track.npy", buffer.getvalue())


def pickled_upload() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"centre": (0, 0)}] * 20, dtype=object), allow_pickle=True)
    return SimpleUploadedFile("track.npy", buffer.getvalue())


def npz_upload() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    np.savez(buffer, waypoints=np.zeros((50, 6)))
    return SimpleUploadedFile("track.npy", buffer.getvalue())


@pytest.fixture
def reinvent(owner_client, owner):
    upload = SimpleUploadedFile("reinvent_base.npy", REINVENT_2018.read_bytes())
    owner_client.post(reverse("models:tracks"), {"title": "re:Invent 2018", "npy": upload})
    return ImportedTrack.objects.get(owner=owner)


def test_it_imports_a_real_deepracer_track_file(reinvent):
    assert reinvent.length == pytest.approx(17.7, abs=0.2)
    assert reinvent.width == pytest.approx(0.76, abs=0.03)
    assert reinvent.load().slug == reinvent.slug == f"user-{reinvent.pk}"


def test_it_lists_my_tracks_with_previews(owner_client, reinvent):
    page = owner_client.get(reverse("models:tracks"))
    assert b"re:Invent 2018" in page.content and b"<svg" in page.content


@pytest.mark.parametrize(("upload", "message"), [
    (SimpleUploadedFile("track.npy", b"not numpy"), "cannot be used"),
    (npy_upload(np.zeros((10, 4))), "N x 6"),
    (npy_upload(np.full((50, 6), np.nan)), "cannot be used"),
    (pickled_upload(), "not a NumPy .npy track file"),  # np.load must never unpickle an upload
    (npz_upload(), "single .npy array"),
])
def test_it_refuses_files_that_are_not_tracks(owner_client, owner, upload, message):
    page = owner_client.post(reverse("models:tracks"), {"title": "bad", "npy": upload})
    assert message in " ".join(page.context["form"].errors["npy"])
    assert not ImportedTrack.objects.filter(owner=owner).exists()


def test_it_refuses_files_over_the_limit(owner_client, owner, settings):
    settings.MAX_UPLOAD_TRACK_BYTES = 1000
    upload = SimpleUploadedFile("reinvent_base.npy", REINVENT_2018.read_bytes())
    page = owner_client.post(reverse("models:tracks"), {"title": "big", "npy": upload})
    assert "limit" in " ".join(page.context["form"].errors["npy"])


def test_it_trains_a_model_on_my_track(owner_client, owner, reinvent, wizard):
    assert reinvent.slug in owner_client.get(reverse("models:create")).content.decode()
    response = owner_client.post(reverse("models:create"), {**wizard, "track": reinvent.slug,
                                                            "direction": "clockwise"})
    assert response.status_code == 302
    model = RLModel.objects.get(owner=owner)
    assert model.track == reinvent.slug and model.track_reversed
    assert model.get_track().direction == "clockwise"
    assert model.track_title == "re:Invent 2018"
    assert b"re:Invent 2018" in owner_client.get(reverse("models:detail", args=[model.pk])).content


def test_it_keeps_my_track_from_a_stranger(stranger_client, stranger_api, reinvent, wizard):
    assert reinvent.slug not in stranger_client.get(reverse("models:create")).content.decode()
    page = stranger_client.post(reverse("models:create"), {**wizard, "track": reinvent.slug})
    assert "track" in page.context["form"].errors
    assert stranger_client.post(reverse("models:track_delete", args=[reinvent.pk])).status_code == 404
    response = stranger_api.post("/api/reward/validate/", {"code": "x", "track": reinvent.slug}, format="json")
    assert response.status_code == 400 and "track" in response.json()
    assert ImportedTrack.objects.filter(pk=reinvent.pk).exists()


def test_it_refuses_to_delete_a_track_a_model_uses(owner_client, owner, reinvent):
    make_model(owner, name="on-reinvent", track=reinvent.slug)
    owner_client.post(reverse("models:track_delete", args=[reinvent.pk]))
    assert ImportedTrack.objects.filter(pk=reinvent.pk).exists()
    RLModel.objects.all().delete()
    owner_client.post(reverse("models:track_delete", args=[reinvent.pk]))
    assert not ImportedTrack.objects.exists()


def test_it_refuses_wrong_methods_and_strangers(owner_client, client, reinvent):
    assert owner_client.get(reverse("models:track_delete", args=[reinvent.pk])).status_code == 405
    assert client.get(reverse("models:tracks")).status_code == 302


def test_it_creates_through_the_api_on_my_track(owner, owner_api, reinvent):
    from garage.models import Vehicle

    vehicle = Vehicle.objects.filter(owner=owner).first()
    response = owner_api.post("/api/models/", {"name": "api-reinvent", "vehicle": vehicle.pk, "track": reinvent.slug,
                                         "track_reversed": True}, format="json")
    assert response.status_code == 201, json.dumps(response.json())
    assert response.json()["track"] == reinvent.slug and response.json()["track_reversed"] is True
