"""Importing what racers trained elsewhere: the real deepracer-for-cloud sample (../shared) as a tarball, a
zip and a dropped folder, every other layout built from its published format, and hostile uploads."""

import io
import json
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from deepracer.logs import DeepRacerLog
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from garage.models import Vehicle
from models_app import layouts
from models_app.archive import NO_WEIGHTS
from models_app.models import ImportedTrack, RLModel
from tests.models_app.conftest import make_model
from training import services, worker
from training.models import EvaluationJob, TrainingJob

SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "deepracer-logs" / "sample-drfc-1-logs"
METADATA = json.loads((SAMPLE / "model" / "model_metadata.json").read_text())
REWARD = (SAMPLE / "reward_function.py").read_text()


def sample_files(prefix="sample-drfc-1-logs/") -> dict[str, bytes]:
    return {prefix + path.relative_to(SAMPLE).as_posix(): path.read_bytes()
            for path in sorted(SAMPLE.rglob("*")) if path.is_file()}


def tar_gz(files: dict) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return SimpleUploadedFile("logs.tar.gz", buffer.getvalue())


def zip_of(files: dict, extra=None) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        if extra:
            extra(archive)
    return SimpleUploadedFile("logs.zip", buffer.getvalue())


def post(client, name="sample", **fields):
    return client.post(reverse("models:import"), {"name": name, "description": "", **fields})


def post_archive(client, upload, name="sample"):
    return post(client, name, archive=upload)


def post_folder(client, files: dict, name="sample", paths=None):
    uploads = [SimpleUploadedFile(path.rsplit("/", 1)[-1], data) for path, data in files.items()]
    return post(client, name, folder=uploads, paths=json.dumps(list(files) if paths is None else paths))


UPLOADS = {
    "tar.gz": lambda client: post_archive(client, tar_gz(sample_files())),
    "zip": lambda client: post_archive(client, zip_of(sample_files())),
    "folder": lambda client: post_folder(client, sample_files()),
}


# -- the real deepracer-for-cloud sample ---------------------------------------------------------------

@pytest.mark.parametrize("kind", list(UPLOADS))
def test_it_imports_the_deepracer_for_cloud_sample_as_a_logs_model(owner_client, owner, kind):
    response = UPLOADS[kind](owner_client)
    model = RLModel.objects.get(owner=owner, name="sample")
    assert response.status_code == 302 and response["Location"] == reverse("models:detail", args=[model.pk])
    assert model.origin == layouts.DRFC and model.is_logs_model and model.logs_only_reason == NO_WEIGHTS
    assert model.reward_code == REWARD
    assert model.hyperparameters["discount_factor"] == 0.95 and model.hyperparameters["num_epochs"] == 3
    vehicle = Vehicle.objects.get(owner=owner, name="sample vehicle")
    assert model.vehicle == vehicle and vehicle.action_space_type == "discrete" and len(vehicle.action_space) == 14
    assert vehicle.action_space[13] == {"steering_angle": 30.0, "speed": 2.0, "index": 13}
    folder = model.folder
    assert len(list((folder / "training-simtrace").glob("*-iteration.csv"))) == 27
    assert len(list(folder.glob("evaluation-*/evaluation-simtrace/0-iteration.csv"))) == 3
    assert (folder / "metrics" / "TrainingMetrics.json").read_bytes() == (SAMPLE / "metrics" / "TrainingMetrics.json").read_bytes()
    job = TrainingJob.objects.get(model=model)
    assert job.status == "COMPLETED" and len(job.metrics) == 27
    assert EvaluationJob.objects.filter(model=model, status="COMPLETED").count() == 3
    assert model.original_figures["iterations"] == 27 and model.original_figures["best_lap"] == "00:13.392"


def test_it_shows_the_samples_graph_reward_vehicle_evaluations_and_origin(owner_client, owner):
    UPLOADS["tar.gz"](owner_client)
    model = RLModel.objects.get(owner=owner, name="sample")
    job = TrainingJob.objects.get(model=model)
    state = owner_client.get(reverse("training:state", args=[job.pk])).json()
    assert [record["iteration"] for record in state["iterations"]] == list(range(1, 28))
    assert state["episodes"] and state["best_iteration"] == job.best_iteration
    evaluations = owner_client.get(reverse("training:model_evaluation", args=[model.pk]))
    assert len(evaluations.context["evaluations"]) == 3 and evaluations.content.decode().count("00:1") >= 3
    assert b'data-testid="start-evaluation"' not in evaluations.content
    first = EvaluationJob.objects.filter(model=model).order_by("created_at").first()
    assert first.created_at.strftime("%Y%m%d%H%M%S") == "20220709200242"
    assert "its original track" in owner_client.get(reverse("training:evaluation", args=[first.pk])).content.decode()
    results = owner_client.get(reverse("training:evaluation_state", args=[first.pk])).json()["results"]
    assert [trial["time"] for trial in results] == ["00:14.792", "00:13.801", "00:14.731"]
    page = owner_client.get(reverse("models:detail", args=[model.pk])).content.decode()
    assert "Imported from deepracer-for-cloud" in page
    assert "cannot be evaluated or raced" in page and "00:13.392" in page
    listing = owner_client.get(reverse("models:list")).content.decode()
    assert "Imported from deepracer-for-cloud" in listing and "logs model" in listing
    training = owner_client.get(reverse("training:model", args=[model.pk])).content.decode()
    assert 'data-testid="logs-model-notice"' in training and 'data-testid="start-training"' not in training
    clone = owner_client.get(reverse("models:clone", args=[model.pk]))
    assert clone.context["form"].initial["reward_code"] == REWARD


def test_it_lands_files_where_deepracer_utils_reads_them(owner_client, owner):
    UPLOADS["zip"](owner_client)
    log = DeepRacerLog(str(RLModel.objects.get(owner=owner).folder))
    log.load_training_trace()
    assert log.dataframe()["iteration"].nunique() == 27
    assert len(log.action_space()) == 14


def test_it_refuses_to_train_or_evaluate_a_logs_model_and_clones_it_from_scratch(owner_client, owner):
    UPLOADS["tar.gz"](owner_client)
    model = RLModel.objects.get(owner=owner, name="sample")
    with pytest.raises(services.JobError, match="trained elsewhere"):
        services.training_start(model, enqueue=False)
    with pytest.raises(services.JobError, match="cannot be evaluated"):
        services.evaluation_start(model, track="quick_loop", enqueue=False)
    with pytest.raises(services.JobError, match="cannot be evaluated"):
        services.training_continue(TrainingJob.objects.get(model=model), enqueue=False)
    clone = make_model(owner, name="sample-clone", vehicle_name="sample vehicle", parent=model,
                       vehicle_snapshot=model.vehicle_snapshot)
    job = services.training_start(clone, enqueue=False)
    assert worker._training_run_config(job).parent_model_dir is None
    ordinary = make_model(owner, name="ordinary")
    child = make_model(owner, name="child", parent=ordinary)
    assert worker._training_run_config(services.training_start(child, enqueue=False)).parent_model_dir == ordinary.folder


# -- the other layouts, built from their published formats --------------------------------------------

def _trace(episodes=2, steps=3) -> bytes:
    header = ("episode,steps,X,Y,yaw,steer,throttle,action,reward,done,all_wheels_on_track,progress,"
              "closest_waypoint,track_len,tstamp,episode_status,pause_duration,obstacle_crash_counter,wall_clock\n")
    rows = [f"{e},{s},0.0,0.0,0.0,0.0,1.0,7,1.0,{s == steps},True,{s * 10},1,17.7,{s / 15:.3f},in_progress,0.0,0,0\n"
            for e in range(episodes) for s in range(1, steps + 1)]
    return (header + "".join(rows)).encode()


def _metrics(iterations=2, per_iteration=2, evaluation=True) -> bytes:
    records = []
    for number in range(1, iterations * per_iteration + 1):
        records.append({"reward_score": 5, "metric_time": number * 1000, "start_time": number * 1000 - 500,
                        "elapsed_time_in_milliseconds": 500, "episode": number,
                        "trial": (number - 1) % per_iteration + 1, "phase": "training", "completion_percentage": 40,
                        "episode_status": "Off track"})
        if evaluation and number % per_iteration == 0:
            records.append({**records[-1], "phase": "evaluation", "trial": 1, "completion_percentage": 100,
                            "episode_status": "Lap complete"})
    return json.dumps({"metrics": records, "version": 2.0, "best_model_metric": "progress"}).encode()


def _evaluation_metrics() -> bytes:
    return json.dumps({"metrics": [{"completion_percentage": 100, "metric_time": 20000, "start_time": 8000,
                                    "elapsed_time_in_milliseconds": 12000, "episode_status": "Lap complete",
                                    "crash_count": 0, "immobilized_count": 0, "off_track_count": 1,
                                    "reversed_count": 0, "reset_count": 1, "trial": 1}]}).encode()


META = json.dumps(METADATA).encode()
HYPER = (SAMPLE / "ip" / "hyperparameters.json").read_bytes()
TF_CHECKPOINT = {"model/.coach_checkpoint": b"5_Step-100.ckpt", "model/5_Step-100.ckpt.index": b"i",
                 "model/5_Step-100.ckpt.data-00000-of-00001": b"d", "model/5_Step-100.ckpt.meta": b"m"}

LAYOUTS = {
    "drfc-multi": ({
        "model/model_metadata.json": META, "ip/hyperparameters.json": HYPER, "reward_function.py": REWARD.encode(),
        "0/training-simtrace/0-iteration.csv": _trace(), "0/training-simtrace/1-iteration.csv": _trace(),
        "1/training-simtrace/0-iteration.csv": _trace(), "1/training-simtrace/1-iteration.csv": _trace(),
        "metrics/TrainingMetrics.json": _metrics(), "metrics/TrainingMetrics_1.json": _metrics(evaluation=False),
        **TF_CHECKPOINT,
    }, layouts.DRFC_MULTI, layouts.DRFC, ["training-simtrace/1-iteration.csv", "1/training-simtrace/1-iteration.csv",
                                          "metrics/TrainingMetrics_1.json"], 2, 0, "TensorFlow checkpoints"),
    "console-logs": ({
        "ACGVRmRuFNU9NkQ/model/model_metadata.json": META, "ACGVRmRuFNU9NkQ/ip/hyperparameters.json": HYPER,
        "ACGVRmRuFNU9NkQ/sim-trace/training/training-simtrace/0-iteration.csv": _trace(),
        "ACGVRmRuFNU9NkQ/sim-trace/training/training-simtrace/1-iteration.csv": _trace(),
        "ACGVRmRuFNU9NkQ/sim-trace/evaluation/20220703172842-wDhqXQC/evaluation-simtrace/0-iteration.csv": _trace(1),
        "ACGVRmRuFNU9NkQ/logs/training/training-20220703-ACGV-robomaker.log": b"SIM_TRACE_LOG:...\n",
        "ACGVRmRuFNU9NkQ/metrics/training/training-20220703-ACGV.json": _metrics(),
        "ACGVRmRuFNU9NkQ/metrics/evaluation/evaluation-20220703172842-wDhqXQC.json": _evaluation_metrics(),
    }, layouts.CONSOLE_LOGS, layouts.CONSOLE, ["training-simtrace/1-iteration.csv",
                                               "evaluation-20220703172842/evaluation-simtrace/0-iteration.csv",
                                               "metrics/TrainingMetrics.json", "metrics/EvaluationMetrics-20220703172842.json",
                                               "logs/training/training-20220703-ACGV-robomaker.log"], 2, 1, NO_WEIGHTS),
    "droa-logs": ({
        "export/model_metadata.json": META, "export/hyperparameters.json": HYPER,
        "export/sim-trace/training/2025-01-02T03-04-05.000Z/training-simtrace/0-iteration.csv": _trace(),
        "export/sim-trace/evaluation/2025-01-03T10:11:12.000Z/evaluation-simtrace/0-iteration.csv": _trace(1),
        "export/logs/training/2025-01-02T03-04-05.000Z-simulation.log": b"log\n",
        "export/metrics/training/training-2025-01-02T03-04-05.json": _metrics(1),
        "export/metrics/evaluation/evaluation-2025-01-03T10:11:12.json": _evaluation_metrics(),
    }, layouts.DROA_LOGS, layouts.DROA, ["model/model_metadata.json", "ip/hyperparameters.json",
                                         "training-simtrace/0-iteration.csv",
                                         "evaluation-20250103101112/evaluation-simtrace/0-iteration.csv",
                                         "metrics/EvaluationMetrics-20250103101112.json"], 1, 1, NO_WEIGHTS),
    "droa-model": ({
        "model_metadata.json": META, "hyperparameters.json": HYPER, "reward_function.py": REWARD.encode(),
        "training_params.yaml": b"WORLD_NAME: reInvent2019_track\nRACE_TYPE: TIME_TRIAL\n",
        "metrics/training/training-abc.json": _metrics(3), **TF_CHECKPOINT,
    }, layouts.DROA_MODEL, layouts.DROA, ["model/model_metadata.json", "training_params.yaml",
                                          "model/5_Step-100.ckpt.index"], 3, 0, "TensorFlow checkpoints"),
    "console-model": ({
        "model_metadata.json": META, "agent/model.pb": b"frozen graph",
    }, layouts.CONSOLE_MODEL, layouts.CONSOLE, ["model/model_metadata.json", "agent/model.pb"], 0, 0, "model.pb"),
}


@pytest.mark.parametrize("case", list(LAYOUTS))
@pytest.mark.parametrize("pack", ["zip", "folder"])
def test_it_imports_every_layout_deepracer_utils_reads(owner_client, owner, case, pack):
    files, layout, origin, landed, iterations, evaluations, reason = LAYOUTS[case]
    assert layouts.plan_import(files).layout == layout
    response = post_archive(owner_client, zip_of(files)) if pack == "zip" else post_folder(owner_client, files)
    assert response.status_code == 302, response.context["form"].errors
    model = RLModel.objects.get(owner=owner, name="sample")
    assert model.origin == origin and reason in model.logs_only_reason
    for path in landed:
        assert (model.folder / path).is_file(), path
    assert len(model.vehicle_snapshot["action_space"]) == 14
    job = TrainingJob.objects.filter(model=model).first()
    assert (len(job.metrics) if job else 0) == iterations
    assert EvaluationJob.objects.filter(model=model).count() == evaluations


def test_it_keeps_the_original_track_name_from_training_params(owner_client, owner):
    post_archive(owner_client, zip_of(LAYOUTS["droa-model"][0]))
    model = RLModel.objects.get(owner=owner)
    assert model.import_details["world_name"] == "reInvent2019_track" and model.track == "quick_loop"
    assert "reInvent2019_track" in owner_client.get(reverse("models:detail", args=[model.pk])).content.decode()


def test_it_trains_clones_on_the_racers_own_copy_of_the_original_track_and_race_type(owner_client, owner):
    track = ImportedTrack.objects.create(owner=owner, title="reInvent2019_track", npy=b"not needed here",
                                         length=23.1, width=1.07)
    params = (b"WORLD_NAME: reInvent2019_track\nREVERSE_DIR: true\nRACE_TYPE: HEAD_TO_BOT\n"
              b"NUMBER_OF_BOT_CARS: 3\nBOT_CAR_SPEED: 0.8\nIS_LANE_CHANGE: true\n")
    post_archive(owner_client, zip_of({**LAYOUTS["droa-model"][0], "training_params.yaml": params}))
    model = RLModel.objects.get(owner=owner)
    assert model.track == track.slug and model.track_reversed
    assert model.race_type == {"race_type": "HEAD_TO_BOT", "bot_count": 3, "bot_speed": 0.8, "bot_lane_changes": True}


def test_it_lets_the_analysis_tab_read_an_imported_logs_model(owner_client, owner):
    UPLOADS["tar.gz"](owner_client)
    model = RLModel.objects.get(owner=owner)
    assert owner_client.get(reverse("training:analysis", args=[model.pk])).status_code == 200
    summary = owner_client.get(f"/training/api/analysis/{model.pk}/summary/").json()
    assert summary["iterations"]["iteration"] == list(range(27))


def test_it_imports_a_folder_with_our_checkpoints_as_a_full_model(owner_client, owner):
    files = {"mine/model/model_metadata.json": META, "mine/model/1_Step-40.ckpt.pt": b"weights",
             "mine/model/deepracer_checkpoints.json": json.dumps({
                 "best_checkpoint": {"name": "1_Step-40.ckpt.pt"}, "last_checkpoint": {"name": "1_Step-40.ckpt.pt"}}).encode(),
             "mine/metrics/TrainingMetrics.json": _metrics(1)}
    post_archive(owner_client, tar_gz(files))
    model = RLModel.objects.get(owner=owner)
    assert model.origin == layouts.HERE and not model.is_logs_model
    assert b'data-testid="logs-model-notice"' not in owner_client.get(reverse("models:detail", args=[model.pk])).content


def test_it_keeps_every_file_when_two_claim_one_place():
    plan = layouts.plan_import(["model/model_metadata.json", "model_metadata.json",
                                "sim-trace/training/2025-01-01T00-00-00/training-simtrace/0-iteration.csv",
                                "sim-trace/training/2025-02-01T00-00-00/training-simtrace/0-iteration.csv"])
    assert len(set(plan.moves.values())) == 4
    assert plan.moves["model_metadata.json"] == "model_metadata.json"  # the one in model/ is read
    assert plan.moves["sim-trace/training/2025-01-01T00-00-00/training-simtrace/0-iteration.csv"] == \
        "training-simtrace/0-iteration.csv"


@pytest.mark.parametrize(("name", "stamp"), [
    ("20220703172842-wDhqXQC-SkGOinLUdZCQZQ", "20220703172842"), ("2025-01-03T10:11:12.000Z", "20250103101112"),
    ("evaluation-2025-01-03T10-11-12.json", "20250103101112"), ("no-time", None),
])
def test_it_reads_evaluation_times_from_each_consoles_names(name, stamp):
    assert layouts._stamp(name) == stamp


# -- hostile uploads ----------------------------------------------------------------------------------

def _zip_symlink(archive):
    info = zipfile.ZipInfo("model/evil")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive.writestr(info, "/etc/passwd")


def _zip_device(archive):
    info = zipfile.ZipInfo("model/null")
    info.external_attr = (stat.S_IFCHR | 0o666) << 16
    archive.writestr(info, "")


def encrypted_zip(files: dict) -> SimpleUploadedFile:
    """A zip whose last entry says it is encrypted (zipfile writes no encryption: the flag is set by hand
    in the central directory, which is what readers list)."""
    data = bytearray(zip_of({**files, "model/secret": b"x"}).read())
    entry = data.rfind(b"PK\x01\x02")
    data[entry + 8] |= 0x1
    return SimpleUploadedFile("logs.zip", bytes(data))


GOOD = {"model/model_metadata.json": META, "reward_function.py": REWARD.encode()}


@pytest.mark.parametrize(("upload", "message"), [
    (lambda: zip_of({**GOOD, "../escape.txt": b"x"}), "outside the model folder"),
    (lambda: zip_of({**GOOD, "/tmp/absolute.txt": b"x"}), "outside the model folder"),
    (lambda: zip_of({**GOOD, "C:/windows.txt": b"x"}), "outside the model folder"),
    (lambda: zip_of({**GOOD, "model\\..\\..\\evil.txt": b"x"}), "refuses"),
    (lambda: zip_of(GOOD, _zip_symlink), "is a link"),
    (lambda: zip_of(GOOD, _zip_device), "device or special file"),
    (lambda: encrypted_zip(GOOD), "encrypted"),
    (lambda: zip_of({"notes/readme.txt": b"x"}), "no model/model_metadata.json"),
    (lambda: zip_of({"training-simtrace/0-iteration.csv": _trace()}), "has no model_metadata.json"),
    (lambda: SimpleUploadedFile("logs.zip", b"PK\x03\x04 but broken"), "not a .zip"),
])
def test_it_refuses_hostile_or_invalid_zips_and_keeps_nothing(owner_client, owner, model_store, upload, message):
    page = post_archive(owner_client, upload())
    assert page.status_code == 200
    errors = " ".join(page.context["form"].errors["archive"])
    assert message in errors, errors
    assert not RLModel.objects.filter(owner=owner).exists() and not Vehicle.objects.filter(name="sample vehicle").exists()
    assert not any(model_store.rglob("escape.txt"))


def test_it_refuses_zips_that_unpack_too_large_or_hold_too_many_entries(owner_client, owner, settings, monkeypatch):
    settings.MAX_UPLOAD_MODEL_BYTES = 2000
    page = post_archive(owner_client, zip_of({**GOOD, "model/big.bin": b"\x00" * 20_000}))  # deflates to ~50 bytes
    assert "unpacks to more" in " ".join(page.context["form"].errors["archive"])
    settings.MAX_UPLOAD_MODEL_BYTES = 10**6
    monkeypatch.setattr("models_app.archive.MAX_MEMBERS", 3)
    page = post_archive(owner_client, zip_of({**GOOD, **{f"logs/{n}.log": b"x" for n in range(3)}}))
    assert "more than 3 entries" in " ".join(page.context["form"].errors["archive"])
    assert not RLModel.objects.filter(owner=owner).exists()


@pytest.mark.parametrize(("paths", "message"), [
    (["../model/model_metadata.json", "x/reward_function.py"], "outside the model folder"),
    (["x/model/model_metadata.json"], "needs its relative path"),
    (["x/model/model_metadata.json", "x/model/model_metadata.json"], "appears twice"),
])
def test_it_refuses_hostile_folder_paths(owner_client, owner, paths, message):
    page = post_folder(owner_client, GOOD, paths=paths)
    assert message in " ".join(page.context["form"].errors["folder"])
    assert not RLModel.objects.filter(owner=owner).exists()


def test_it_asks_for_exactly_one_archive_or_folder(owner_client, owner):
    page = post(owner_client)
    assert "one of them" in " ".join(page.context["form"].errors["archive"])
    page = post(owner_client, archive=zip_of(GOOD), folder=[SimpleUploadedFile("a", b"x")], paths='["x/a"]')
    assert "one of them" in " ".join(page.context["form"].errors["archive"])
    assert post(owner_client, folder=[SimpleUploadedFile("a", b"x")], paths="not json").context["form"].errors["paths"]


def test_it_imports_through_the_api_with_the_origin(owner_api, owner):
    response = owner_api.post("/api/models/import/", {"name": "sample", "archive": zip_of(sample_files())},
                               format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["origin"] == "drfc" and body["logs_only_reason"] == NO_WEIGHTS
    assert body["import_details"]["figures"]["iterations"] == 27
    files = LAYOUTS["console-logs"][0]
    folder = owner_api.post("/api/models/import/", {
        "name": "from-folder", "folder": [SimpleUploadedFile(path.rsplit("/", 1)[-1], data) for path, data in files.items()],
        "paths": json.dumps(list(files))}, format="multipart")
    assert folder.status_code == 201, folder.json()
    assert folder.json()["origin"] == "console" and folder.json()["import_details"]["figures"]["evaluations"] == 1
    bad = owner_api.post("/api/models/import/", {"name": "bad", "archive": zip_of({**GOOD, "../x": b"x"})},
                          format="multipart")
    assert bad.status_code == 400 and "outside" in bad.json()["archive"][0]


def test_it_counts_an_import_against_the_model_quota(owner_client, owner_api, owner):
    from training import quotas
    from training.models import UNLIMITED, QuotaSettings, RacerQuota

    QuotaSettings.objects.update_or_create(pk=1, defaults={"models_count": 1})
    make_model(owner, name="mine")
    vehicles = Vehicle.objects.filter(owner=owner).count()
    message = (f"Your model quota is 1 model: delete a model to create another. (The model quota does not reset; "
               f"the compute quota resets on {quotas.resets_on():%-d %B %Y} (UTC).)")
    page = post_archive(owner_client, tar_gz(sample_files()))
    assert page.status_code == 200 and page.context["form"].non_field_errors() == [message]
    assert message in page.content.decode()
    api = owner_api.post("/api/models/import/", {"name": "sample", "archive": zip_of(sample_files())},
                         format="multipart")
    assert api.status_code == 400 and api.json() == {"__all__": [message]}
    assert list(RLModel.objects.values_list("name", flat=True)) == ["mine"]
    assert Vehicle.objects.filter(owner=owner).count() == vehicles  # the import brought no Garage vehicle either
    RacerQuota.objects.create(user=owner, models_count=UNLIMITED)  # an admin lifts the racer's quota
    assert post_archive(owner_client, tar_gz(sample_files())).status_code == 302
