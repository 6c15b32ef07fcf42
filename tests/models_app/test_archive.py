import io
import json
import tarfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from models_app.models import RLModel

METADATA = {"action_space": [{"steering_angle": -30, "speed": 1}, {"steering_angle": 30, "speed": 1}],
            "sensor": ["FRONT_FACING_CAMERA"], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
            "training_algorithm": "clipped_ppo", "version": 5}  # numeric version, no index, no action_space_type


def archive(files: dict, extra=None) -> SimpleUploadedFile:
    """A .tar.gz of {name: bytes}; `extra(tar)` adds hostile members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra:
            extra(tar)
    return SimpleUploadedFile("model.tar.gz", buffer.getvalue(), content_type="application/gzip")


def good_files(prefix=""):
    return {
        f"{prefix}model/model_metadata.json": json.dumps(METADATA).encode(),
        f"{prefix}model/model_5.pt": b"\x00" * 100,
        f"{prefix}reward_function.py": b"def reward_function(params):\n    return 1.0\n",
        f"{prefix}ip/hyperparameters.json": json.dumps({"lr": 0.0001, "batch_size": 128, "e_greedy_value": 0.05}).encode(),
        f"{prefix}training_params.yaml": b"WORLD_NAME: oval\n",
    }


def post(client, upload, name="imported"):
    return client.post(reverse("models:import"), {"name": name, "description": "from elsewhere", "archive": upload})


def test_it_imports_a_model_folder_as_a_ready_model(owner_client, owner):
    response = post(owner_client, archive(good_files()))
    model = RLModel.objects.get(owner=owner, name="imported")
    assert response.status_code == 302 and response["Location"] == reverse("models:detail", args=[model.pk])
    assert model.status == "READY"
    assert model.track == "oval"
    assert model.hyperparameters["lr"] == 0.0001 and model.hyperparameters["batch_size"] == 128
    assert model.vehicle_snapshot["action_space"][1] == {"steering_angle": 30.0, "speed": 1.0, "index": 1}
    assert model.reward_code.startswith("def reward_function")
    assert (model.folder / "model" / "model_5.pt").read_bytes() == b"\x00" * 100


def test_it_accepts_a_folder_wrapped_in_a_top_folder(owner_client, owner):
    post(owner_client, archive(good_files("my-model/")))
    assert (RLModel.objects.get(owner=owner).folder / "model" / "model_metadata.json").is_file()


def test_it_round_trips_a_download(owner_client, owner):
    from tests.models_app.conftest import make_model

    source = make_model(owner, name="source")
    data = b"".join(owner_client.get(reverse("models:download", args=[source.pk])).streaming_content)
    post(owner_client, SimpleUploadedFile("source.tar.gz", data), name="copy")
    copy = RLModel.objects.get(owner=owner, name="copy")
    assert copy.vehicle_snapshot["action_space"] == source.vehicle_snapshot["action_space"]
    assert copy.reward_code == source.reward_code


def _symlink(tar):
    info = tarfile.TarInfo("model/evil")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    tar.addfile(info)


def _device(tar):
    info = tarfile.TarInfo("model/null")
    info.type = tarfile.CHRTYPE
    tar.addfile(info)


def _hardlink(tar):
    info = tarfile.TarInfo("model/hard")
    info.type = tarfile.LNKTYPE
    info.linkname = "reward_function.py"
    tar.addfile(info)


@pytest.mark.parametrize(("upload", "message"), [
    (archive({**good_files(), "../escape.txt": b"x"}), "outside the model folder"),
    (archive({**good_files(), "/tmp/absolute.txt": b"x"}), "outside the model folder"),
    (archive(good_files(), _symlink), "is a link"),
    (archive(good_files(), _hardlink), "is a link"),
    (archive(good_files(), _device), "device or special file"),
    (archive({"reward_function.py": b"x"}), "no model/model_metadata.json"),
    (archive({**good_files(), "model/model_metadata.json": b"{not json"}), "not valid JSON"),
    (archive({**good_files(), "model/model_metadata.json": json.dumps(
        {**METADATA, "action_space": [{"steering_angle": 99, "speed": 1}] * 2}).encode()}), "steering angle"),
    (archive({**good_files(), "model/model_metadata.json": json.dumps(
        {**METADATA, "training_algorithm": "sac"}).encode()}), "continuous"),
    (archive({**good_files(), "model/model_metadata.json": json.dumps({**METADATA, "sensor": ["LIDAR"]}).encode()}),
     "camera"),
    (archive({**good_files(), "ip/hyperparameters.json": b'{"lr": 5}'}), "lr"),
    (SimpleUploadedFile("model.tar.gz", b"plain text, not gzip"), "not a .tar.gz"),
])
def test_it_refuses_unsafe_or_invalid_archives_and_keeps_nothing(owner_client, owner, model_store, upload, message):
    page = post(owner_client, upload)
    assert page.status_code == 200
    errors = " ".join(page.context["form"].errors["archive"])
    assert message in errors, errors
    assert not RLModel.objects.filter(owner=owner).exists()
    assert not any(model_store.rglob("*.pt")) and not any(model_store.rglob("escape.txt"))


def test_it_refuses_archives_over_the_upload_limit(owner_client, owner, settings):
    settings.MAX_UPLOAD_MODEL_BYTES = 100
    page = post(owner_client, archive(good_files()))
    assert "limit" in " ".join(page.context["form"].errors["archive"])


def test_it_refuses_archives_that_unpack_too_large(owner_client, owner, settings):
    settings.MAX_UPLOAD_MODEL_BYTES = 2000  # the archive is small, its content is not
    page = post(owner_client, archive({**good_files(), "model/big.bin": b"\x00" * 20_000}))
    assert "unpacks to more" in " ".join(page.context["form"].errors["archive"])


def test_it_refuses_archives_with_too_many_entries(owner_client, owner, monkeypatch):
    monkeypatch.setattr("models_app.archive.MAX_MEMBERS", 5)
    page = post(owner_client, archive({**good_files(), **{f"model/extra-{n}.txt": b"x" for n in range(5)}}))
    assert "more than 5 entries" in " ".join(page.context["form"].errors["archive"])
    assert not RLModel.objects.filter(owner=owner).exists()


def test_it_refuses_an_oversized_metadata_file(owner_client, owner):
    padded = json.dumps(METADATA).encode() + b" " * (1024 * 1024)
    page = post(owner_client, archive({**good_files(), "model/model_metadata.json": padded}))
    assert "too large" in " ".join(page.context["form"].errors["archive"])
    assert not RLModel.objects.filter(owner=owner).exists()


def test_it_keeps_the_import_page_from_anonymous_visitors(client, db):
    response = client.post(reverse("models:import"), {"name": "x", "archive": archive(good_files())})
    assert response.status_code == 302 and not RLModel.objects.exists()
