"""The worker side of head-to-model heats (training/worker.py, tasks.py, queue.py) with the real heat engine
on tiny budgets: a heat runs to its result, replay and traces, streams both cars on its group, tells the
races app it ended (heat_finished), stops, fails with a reason, waits its turn in the fair queue as the
requester's job, and is recovered like other jobs."""

import shutil
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from console.celery import TRAINING_QUEUE, app
from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from tests.training.jobs_fixtures import _listen, make_model
from training import artifacts, queue, services, tasks, worker
from training.models import STALE_AFTER, EvaluationJob, HeatJob, JobStatus
from training.signals import heat_finished

FINISH_SECONDS = 180


@pytest.fixture(autouse=True)
def _as_fast_as_it_goes(monkeypatch):
    monkeypatch.setenv("HEAT_REALTIME", "0")


@pytest.fixture(name="opponent_model")
def fixture_opponent_model(stranger, trained_model_folder):
    model = make_model(stranger, name="Opponent")
    shutil.copytree(trained_model_folder, model.folder)
    return model


@pytest.fixture(name="heard")
def fixture_heard():
    """The heat_finished signals sent during the test: (job id, status, result)."""
    heard = []

    def receiver(sender, job, **kwargs):
        heard.append((job.pk, job.status, job.result))

    heat_finished.connect(receiver)
    yield heard
    heat_finished.disconnect(receiver)


def _heat(owner, model, opponent, **settings):
    settings = {"track": "quick_loop", "max_seconds": 2.0, "laps": 1, "enqueue": False, **settings}
    return services.heat_start(requested_by=owner, model=model, opponent=opponent, **settings)


def test_it_runs_a_heat_to_its_result_replay_and_traces(owner, trained_rl_model, opponent_model, heard):
    job = _heat(owner, trained_rl_model, opponent_model, label="Final")
    listen = _listen(job.group)
    job = worker.heat_run(job.pk)
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    result = job.result
    assert result["decided_by"] == "time_limit" and result["sim_seconds"] == 2.0
    assert [car["model_id"] for car in result["cars"]] == [str(trained_rl_model.pk), str(opponent_model.pk)]
    assert [car["model_name"] for car in result["cars"]] == ["Trained-Model", "Opponent"]
    assert job.video == artifacts.HEAT_VIDEO and job.video_path == job.folder.resolve() / artifacts.HEAT_VIDEO
    for car in (0, 1):
        assert len(artifacts.read_simtrace(job.simtrace_path(car))) == 31
    assert job.started_at and job.finished_at and job.attempts == 1 and job.worker
    assert heard == [(job.pk, JobStatus.COMPLETED, result)]
    # Heats race the models' checkpoints: their own statuses are untouched.
    trained_rl_model.refresh_from_db()
    assert trained_rl_model.status == "READY"
    events = listen()
    frames = [event["payload"] for event in events if event["event"] == "frame"]
    assert {(frame["car"], frame["view"]) for frame in frames} == {(0, "chase"), (1, "chase")}
    assert all(isinstance(frame["jpeg"], str) for frame in frames)  # base64, as evaluation frames are
    ticks = [event["payload"] for event in events if event["event"] == "tick"]
    assert ticks and len(ticks[-1]["cars"]) == 2 and "gap" in ticks[-1]
    statuses = [event["payload"] for event in events if event["event"] == "status"]
    assert statuses[-1]["status"] == JobStatus.COMPLETED and statuses[-1]["result"] == result


def test_it_stops_a_running_heat_without_a_result(owner, trained_rl_model, opponent_model, heard):
    job = _heat(owner, trained_rl_model, opponent_model, max_seconds=120.0)

    def stop_at_the_first_frame(progress):
        if progress.kind == "frame":
            running = HeatJob.objects.get(pk=job.pk)
            if running.status == JobStatus.IN_PROGRESS:
                services.heat_stop(running)

    job = worker.heat_run(job.pk, observer=stop_at_the_first_frame)
    assert (job.status, job.result, job.video, job.stop_requested) == (JobStatus.CANCELED, {}, "", True)
    assert heard == [(job.pk, JobStatus.CANCELED, {})]


def test_it_fails_a_heat_with_the_reason(owner, trained_rl_model, opponent_model, heard):
    job = _heat(owner, trained_rl_model, opponent_model)
    (opponent_model.folder / "model" / "deepracer_checkpoints.json").unlink()  # after the heat was queued
    job = worker.heat_run(job.pk)
    assert job.status == JobStatus.FAILED
    assert job.failure_reason == ("Opponent: the model has no checkpoint yet "
                                  "(model/deepracer_checkpoints.json is missing)")
    assert heard == [(job.pk, JobStatus.FAILED, {})]


def test_heats_take_turns_with_other_racers_jobs_in_the_fair_queue(owner, stranger, trained_rl_model, opponent_model):
    first = _heat(owner, trained_rl_model, opponent_model)
    second = _heat(owner, trained_rl_model, opponent_model)
    theirs = services.evaluation_start(opponent_model, track="quick_loop", enqueue=False)
    # Round robin by racer: the organiser's first heat, the stranger's evaluation, then the second heat.
    assert queue.fair_order() == [first, theirs, second]
    assert queue.places()[("heat", second.pk)].position == 3
    assert services.job_place(second)["position"] == 3
    # A heat is not a model's job: the models list shows the evaluation's place only.
    assert services.model_places(stranger) == {opponent_model.pk: services.job_place(theirs)}
    assert services.model_places(owner) == {}
    ran = worker.job_run_next(worker="w1")
    assert isinstance(ran, HeatJob) and ran.pk == first.pk and ran.status == JobStatus.COMPLETED
    assert queue.fair_order() == [theirs, second]


def test_a_live_heat_takes_the_next_free_worker_past_the_queue(owner, stranger, trained_rl_model, opponent_model):
    theirs = services.evaluation_start(opponent_model, track="quick_loop", enqueue=False)
    heat = _heat(owner, trained_rl_model, opponent_model)
    live = _heat(owner, trained_rl_model, opponent_model, live=True)
    assert queue.fair_order() == [live, theirs, heat], "the room waited behind the queue"
    assert services.job_place(live)["position"] == 1


def test_a_heat_whose_worker_died_runs_again(owner, trained_rl_model, opponent_model, django_capture_on_commit_callbacks):
    job = _heat(owner, trained_rl_model, opponent_model)
    HeatJob.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS, attempts=1, worker="lost@host",
                                             heartbeat_at=timezone.now() - STALE_AFTER - timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as enqueued:
        assert ("HeatJob", job.pk, "requeued") in worker.jobs_recover()
    assert len(enqueued) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    job = worker.heat_run(job.pk)
    assert job.status == JobStatus.COMPLETED and job.attempts == 2


def test_an_interrupted_heat_runs_again_from_the_start(owner, trained_rl_model, opponent_model, shutdown_when,
                                                        django_capture_on_commit_callbacks):
    job = _heat(owner, trained_rl_model, opponent_model)
    with django_capture_on_commit_callbacks() as enqueued:
        job = worker.heat_run(job.pk, observer=shutdown_when(lambda progress: progress.kind == "frame"))
    assert job.status == JobStatus.INTERRUPTED and job.result == {} and len(enqueued) == 1
    worker._WorkerShutdown.signal_name = None
    job = worker.heat_run(job.pk)
    assert job.status == JobStatus.COMPLETED and job.result["sim_seconds"] == 2.0


def test_the_heat_task_runs_the_fairest_job_through_the_queue(owner, trained_rl_model, opponent_model,
                                                             django_capture_on_commit_callbacks):
    assert app.amqp.router.route({}, tasks.run_heat_job.name)["queue"].name == TRAINING_QUEUE
    assert tasks.run_heat_job.acks_late and tasks.run_heat_job.reject_on_worker_lost
    with django_capture_on_commit_callbacks() as enqueued:
        job = services.heat_start(requested_by=owner, model=trained_rl_model, opponent=opponent_model,
                                  track="quick_loop", max_seconds=1.0)
    assert len(enqueued) == 1
    tasks.run_heat_job.run(job.pk)  # the task's body, in this process
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.result["sim_seconds"] == 1.0
    assert not EvaluationJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_races_a_heat_in_a_real_worker(worker, owner, stranger, trained_model_folder):
    # The worker process reads the model store from its own settings: these models use the default store.
    from django.conf import settings

    from console.settings import MODEL_STORE

    settings.MODEL_STORE = MODEL_STORE
    models = [make_model(owner, name="Worker-Red"), make_model(stranger, name="Worker-Yellow")]
    for model in models:
        shutil.copytree(trained_model_folder, model.folder)
    job = None
    try:
        job = services.heat_start(requested_by=owner, model=models[0], opponent=models[1], track="quick_loop",
                                  max_seconds=1.0)
        deadline = time.monotonic() + FINISH_SECONDS
        while time.monotonic() < deadline and not job.is_finished:
            time.sleep(1)
            job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED, job.failure_reason or worker.log()[-3000:]
        assert job.result["decided_by"] == "time_limit" and job.video_path is not None
    finally:
        for model in models:
            shutil.rmtree(model.folder, ignore_errors=True)
        if job is not None:
            shutil.rmtree(job.folder, ignore_errors=True)
