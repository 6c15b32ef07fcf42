"""The worker side of jobs (training/worker.py) with the real engine, env and reward sandbox on tiny budgets:
claiming, running and reporting, shutdowns, recovery. Moved here from test_services.py with the code."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from console.celery import app
from simulator.reward import sandbox
from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from tests.training.jobs_fixtures import BROKEN_REWARD, _imported_track, _listen, make_model
from training import artifacts, services, worker
from training.models import EvaluationJob, JobStatus, TrainingJob


def test_it_stops_a_running_job_cleanly_with_a_final_checkpoint(rl_model):
    job = services.training_start(rl_model, max_iterations=50, enqueue=False)

    def stop_at_first_episode(progress):
        if progress.kind == "episode":
            running = TrainingJob.objects.get(pk=job.pk)
            if running.status == JobStatus.IN_PROGRESS:
                services.training_stop(running)

    job = worker.training_run(job.pk, observer=stop_at_first_episode)
    rl_model.refresh_from_db()
    assert (job.status, job.stop_reason, rl_model.status) == (JobStatus.COMPLETED, "stopped", "READY")
    assert job.stop_requested and job.last_iteration < 50
    assert artifacts.read_checkpoints_index(rl_model.folder)["last_checkpoint"]["name"]


@pytest.fixture
def eager_celery():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_it_cancels_a_queued_job_without_running_it(rl_model):
    job = services.training_stop(services.training_start(rl_model, enqueue=False))
    rl_model.refresh_from_db()
    assert (job.status, rl_model.status) == (JobStatus.CANCELED, "ERROR")
    assert worker.training_run(job.pk) is None
    with pytest.raises(services.JobError, match="nothing to stop"):
        services.training_stop(job)


def test_it_fails_the_job_with_the_reward_functions_error(owner):
    broken = make_model(owner, reward_code=BROKEN_REWARD)
    job = worker.training_run(services.training_start(broken, max_iterations=1, enqueue=False).pk)
    broken.refresh_from_db()
    assert (job.status, broken.status) == (JobStatus.FAILED, "ERROR")
    assert "no_such_key" in job.failure_reason and "line 2" in job.failure_reason


def test_it_fails_the_job_when_the_sandbox_self_test_fails(rl_model, monkeypatch):
    # The self-test results are cached per process: record failures as a host without isolation would.
    monkeypatch.delenv(sandbox.ENV_SWITCH, raising=False)
    for backend in sandbox.BACKENDS:
        monkeypatch.setitem(sandbox._self_tests, backend, "the probe escaped: opened /etc/passwd")
    job = worker.training_run(services.training_start(rl_model, enqueue=False).pk)
    assert job.status == JobStatus.FAILED
    assert "no reward sandbox backend works on this host" in job.failure_reason
    assert "the probe escaped" in job.failure_reason


def test_it_does_not_claim_a_job_running_on_a_live_worker(rl_model):
    job = services.training_start(rl_model, enqueue=False)
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS, heartbeat_at=timezone.now())
    assert worker.training_run(job.pk) is None


def test_it_resumes_a_job_whose_worker_died_from_its_last_checkpoint(trained_rl_model, eager_celery,
                                                                     django_capture_on_commit_callbacks):
    # The folder holds iteration 1; the job's worker died in iteration 2 a while ago.
    job = services.training_start(trained_rl_model, max_iterations=2, enqueue=False)
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS, attempts=1, worker="gone@host",
                                                 heartbeat_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert worker.jobs_recover() == [("TrainingJob", job.pk, "requeued")]
    job.refresh_from_db()
    assert (job.status, job.last_iteration, job.attempts) == (JobStatus.COMPLETED, 2, 2)
    assert "Resuming from checkpoint" in services.training_log_path(job).read_text()


def test_it_requeues_the_jobs_of_a_restarted_worker_at_once(rl_model, django_capture_on_commit_callbacks):
    job = services.training_start(rl_model, enqueue=False)
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS, attempts=1, worker="w1@host",
                                                 heartbeat_at=timezone.now())
    assert worker.jobs_recover() == []
    with django_capture_on_commit_callbacks() as callbacks:
        assert worker.jobs_recover(dead_worker="w1@host") == [("TrainingJob", job.pk, "requeued")]
    assert len(callbacks) == 1
    job.refresh_from_db()
    rl_model.refresh_from_db()
    assert (job.status, rl_model.status) == (JobStatus.QUEUED, "QUEUED")


def test_it_fails_a_job_whose_worker_died_too_often(rl_model):
    job = services.training_start(rl_model, enqueue=False)
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS, attempts=worker.MAX_ATTEMPTS,
                                                 heartbeat_at=timezone.now() - timedelta(hours=1))
    assert worker.jobs_recover() == [("TrainingJob", job.pk, "failed")]
    job.refresh_from_db()
    rl_model.refresh_from_db()
    assert (job.status, rl_model.status) == (JobStatus.FAILED, "ERROR")
    assert "stopped responding (3 attempts)" in job.failure_reason


def test_it_clones_from_the_parents_weights(trained_rl_model, owner):
    clone = make_model(owner, name="Clone", parent=trained_rl_model)
    job = worker.training_run(services.training_start(clone, max_iterations=1, enqueue=False).pk)
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    assert f"Cloned from {trained_rl_model.pk}" in services.training_log_path(job).read_text()


def test_it_refuses_a_clone_with_another_action_count(trained_rl_model, owner):
    snapshot = {**trained_rl_model.vehicle_snapshot, "action_space": trained_rl_model.vehicle_snapshot["action_space"][:4]}
    clone = make_model(owner, name="Clone", parent=trained_rl_model, vehicle_snapshot=snapshot)
    job = worker.training_run(services.training_start(clone, max_iterations=1, enqueue=False).pk)
    assert job.status == JobStatus.FAILED and "action count" in job.failure_reason


def test_it_evaluates_three_trials_with_results_and_a_video(trained_rl_model):
    # Single-lap trials: continuous mode (the env's and engine's) runs until a lap completes, too long here.
    job = services.evaluation_start(trained_rl_model, track="oval", reversed=True, trials=3, enqueue=False)
    listen = _listen(job.group)
    job = worker.evaluation_run(job.pk)
    trained_rl_model.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    assert trained_rl_model.status == "READY"
    assert [trial["trial"] for trial in job.results] == [1, 2, 3]
    for trial in job.results:
        assert trial["time"].count(":") == 1 and len(trial["time"]) == len("00:00.000")
        assert trial["off_track_penalty"] == 0.0 and trial["status"] != "in_progress"
        assert {"completion", "status", "crash_count", "crash_penalty", "reset_count"} <= set(trial)
    video = services.evaluation_video_path(job)
    assert video is not None and video.stat().st_size > 0 and video.suffix == ".mp4"
    assert {"status", "episode", "frame"} <= {event["event"] for event in listen()}


def test_it_stops_an_evaluation_that_has_not_started(trained_rl_model):
    job = services.evaluation_stop(services.evaluation_start(trained_rl_model, track="quick_loop", enqueue=False))
    assert job.status == JobStatus.CANCELED
    assert worker.evaluation_run(job.pk) is None


@pytest.mark.django_db(transaction=True)  # writes for the deleted job fail at once, as in production
def test_it_ends_the_run_when_the_model_is_deleted_under_it(rl_model):
    job = services.training_start(rl_model, max_iterations=50, enqueue=False)

    def delete_at_first_episode(progress):
        if progress.kind == "episode" and TrainingJob.objects.filter(pk=job.pk).exists():
            type(rl_model).objects.filter(pk=rl_model.pk).delete()

    assert worker.training_run(job.pk, observer=delete_at_first_episode) is None
    assert not TrainingJob.objects.filter(pk=job.pk).exists()


def test_it_trains_on_the_owners_imported_track(owner):
    track = _imported_track(owner)
    imported = make_model(owner, name="On-Reinvent", track=track.slug, track_reversed=True)
    job = worker.training_run(services.training_start(imported, max_iterations=1, enqueue=False).pk)
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    params = artifacts.read_training_params(imported.folder)
    assert (params["WORLD_NAME"], params["REVERSE_DIR"]) == (track.slug, True)


def test_a_shutdown_checkpoints_the_job_and_the_next_worker_resumes_it(rl_model, shutdown_when,
                                                                      django_capture_on_commit_callbacks):
    job = services.training_start(rl_model, max_iterations=2, enqueue=False)
    with django_capture_on_commit_callbacks() as enqueued:
        job = worker.training_run(job.pk, observer=shutdown_when(
            lambda progress: progress.kind == "metrics" and progress.data["iteration"] == 1))
    rl_model.refresh_from_db()
    assert (job.status, job.get_status_display(), rl_model.status) == (JobStatus.INTERRUPTED, "Stopped by the system",
                                                                        "QUEUED")
    assert job.failure_reason.startswith("The console stopped while this job ran (SIGINT). Nothing is lost")
    assert "resumes from its last checkpoint (iteration 1)" in job.failure_reason
    assert (job.is_active, job.is_finished, job.attempts, job.stop_requested) == (True, False, 0, False)
    assert len(enqueued) == 1  # its message is back in the queue for the next worker
    assert artifacts.read_checkpoints_index(rl_model.folder)["last_checkpoint"]["name"].startswith("1_")

    worker._WorkerShutdown.signal_name = None  # the next worker
    job = worker.training_run(job.pk, worker="next@host")
    assert (job.status, job.last_iteration, job.failure_reason, job.worker) == (JobStatus.COMPLETED, 2, "",
                                                                                 "next@host")
    assert [record["iteration"] for record in job.metrics] == [1, 2]  # one continuous graph
    assert "Resuming from checkpoint 1_" in services.training_log_path(job).read_text()


def test_a_shutdown_before_the_first_iteration_is_not_a_failure_either(rl_model, shutdown_when):
    job = services.training_start(rl_model, max_iterations=2, enqueue=False)
    job = worker.training_run(job.pk, observer=shutdown_when(lambda progress: True))
    assert job.status == JobStatus.INTERRUPTED and "(the start)" in job.failure_reason


def test_the_racers_stop_during_a_shutdown_still_completes_the_job(rl_model, shutdown_when):
    job = services.training_start(rl_model, max_iterations=5, enqueue=False)

    def stop_then_shut_down(progress):
        if progress.kind == "episode":
            services.training_stop(TrainingJob.objects.get(pk=job.pk))
            worker.worker_shutdown_requested("SIGTERM")

    job = worker.training_run(job.pk, observer=stop_then_shut_down)
    assert (job.status, job.stop_reason) == (JobStatus.COMPLETED, "stopped")
    shutdown_when(lambda progress: False)  # the fixture undoes the flag


def test_stopping_an_interrupted_job_keeps_its_last_checkpoint(trained_rl_model):
    job = services.training_start(trained_rl_model, enqueue=False)
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.INTERRUPTED, started_at=timezone.now())
    job = services.training_stop(TrainingJob.objects.get(pk=job.pk))
    trained_rl_model.refresh_from_db()
    assert (job.status, job.stop_reason, trained_rl_model.status) == (JobStatus.COMPLETED, "stopped", "READY")
    assert worker.training_run(job.pk) is None


def test_a_starting_worker_sends_the_waiting_jobs_again(rl_model, trained_rl_model,
                                                       django_capture_on_commit_callbacks):
    queued = services.training_start(rl_model, enqueue=False)
    interrupted = services.evaluation_start(trained_rl_model, track="quick_loop", enqueue=False)
    EvaluationJob.objects.filter(pk=interrupted.pk).update(status=JobStatus.INTERRUPTED)
    assert worker.jobs_recover() == []  # a page's repair never sends anything twice
    with django_capture_on_commit_callbacks() as enqueued:
        done = worker.jobs_recover(resend_waiting=True)
    assert done == [("TrainingJob", queued.pk, "resent"), ("EvaluationJob", interrupted.pk, "resent")]
    assert len(enqueued) == 2


def test_an_interrupted_evaluation_runs_again_from_the_start(trained_rl_model, shutdown_when):
    job = services.evaluation_start(trained_rl_model, track="quick_loop", trials=3, enqueue=False)
    job = worker.evaluation_run(job.pk, observer=shutdown_when(lambda progress: progress.kind == "episode"))
    assert job.status == JobStatus.INTERRUPTED and "runs again from the start" in job.failure_reason
    assert len(job.results) == 1  # the trial it finished before the shutdown
    worker._WorkerShutdown.signal_name = None
    job = worker.evaluation_run(job.pk)
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    assert [trial["trial"] for trial in job.results] == [1, 2, 3]


def test_an_evaluation_whose_worker_died_runs_again(trained_rl_model, django_capture_on_commit_callbacks):
    job = services.evaluation_start(trained_rl_model, track="quick_loop", enqueue=False)
    EvaluationJob.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS, attempts=1, worker="gone@host",
                                                   heartbeat_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks() as enqueued:
        assert worker.jobs_recover() == [("EvaluationJob", job.pk, "requeued")]
    assert len(enqueued) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_it_continues_a_failed_training_from_its_last_checkpoint_in_the_same_job(
        rl_model, django_capture_on_commit_callbacks):
    trained_rl_model = rl_model
    job = worker.training_run(services.training_start(rl_model, max_iterations=1, enqueue=False).pk)
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, failure_reason="WorkerDied: gone",
                                                 elapsed_seconds=120.0, max_minutes=2.0)
    job.refresh_from_db()
    assert job.can_continue
    with django_capture_on_commit_callbacks() as enqueued:
        job = services.training_continue(job, minutes=0.5)
    trained_rl_model.refresh_from_db()
    assert (job.status, trained_rl_model.status, job.failure_reason, job.max_minutes) == (
        JobStatus.QUEUED, "QUEUED", "", 2.5)
    assert len(enqueued) == 1
    with pytest.raises(services.JobError, match="only a finished one can continue"):
        services.training_continue(job)
    TrainingJob.objects.filter(pk=job.pk).update(max_iterations=2)  # keep the test's run tiny
    job = worker.training_run(job.pk)
    assert (job.status, job.last_iteration) == (JobStatus.COMPLETED, 2), job.failure_reason
    assert [record["iteration"] for record in job.metrics] == [1, 2]
    assert (Path(trained_rl_model.folder) / "training-simtrace" / "1-iteration.csv").is_file()


def test_a_restarted_workers_sweep_leaves_the_job_it_has_claimed_since(rl_model, django_capture_on_commit_callbacks):
    import time as clock

    started = clock.time()
    job = services.training_start(rl_model, enqueue=False)
    assert TrainingJob.objects.claim(job.pk, "w1@host")  # the new process, same name, took the job already
    with django_capture_on_commit_callbacks() as enqueued:
        assert worker.jobs_recover(dead_worker="w1@host", started_at=started) == []
        TrainingJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=30))
        assert worker.jobs_recover(dead_worker="w1@host", started_at=started) == [
            ("TrainingJob", job.pk, "requeued")]  # held from before the start: the predecessor's
    assert len(enqueued) == 1


def test_a_run_whose_job_was_taken_from_it_stops_and_leaves_the_job_alone(rl_model, monkeypatch):
    job = services.training_start(rl_model, max_iterations=5, enqueue=False)

    def taken_at_first_episode(progress):
        if progress.kind == "episode":
            TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.INITIALIZING, worker="other@host")

    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.0)  # the next report checks the claim
    assert worker.training_run(job.pk, worker="first@host", observer=taken_at_first_episode) is None
    job.refresh_from_db()
    assert (job.status, job.worker) == (JobStatus.INITIALIZING, "other@host")  # the other run's to finish


@pytest.mark.parametrize("env, expected", [
    ({}, (4, 4, None)),  # alone on the machine: a simulator per core, the update within the 4 cores
    ({"TRAINING_WORKERS": "2"}, (2, 2, None)),
    ({"TRAINING_WORKERS": "3"}, (1, 1, None)),
    ({"TRAINING_WORKERS": "8"}, (1, 1, None)),  # a room of racers: never below one of each
    ({"TRAINING_ENV_WORKERS": "3", "WORKER_THREADS": "1"}, (3, 4, 1)),
])
def test_a_job_takes_its_share_of_the_cores(monkeypatch, env, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    for name in ("TRAINING_WORKERS", "TRAINING_ENV_WORKERS", "WORKER_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    options = worker.engine_options()
    assert (options["num_workers"], options["cores"], options["update_threads"]) == expected
