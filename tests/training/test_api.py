"""REST API for jobs: owner-only start, stop, list, detail and metrics."""

import pytest
from django.urls import reverse

from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from tests.training.jobs_fixtures import make_model
from training import services
from training.models import EvaluationJob, JobStatus, TrainingEpisode, TrainingJob

TRAINING_JOBS = "training:training-job-list"
EVALUATION_JOBS = "training:evaluation-job-list"


@pytest.fixture
def training_job(rl_model):
    job = services.training_start(rl_model, enqueue=False)
    TrainingJob.objects.filter(pk=job.pk).update(metrics=[{"iteration": 1, "average_reward": 3.0}])
    TrainingEpisode.objects.create(job=job, phase="training", iteration=1, number=1, reward=2.0, progress=12.5,
                                   status="off_track", steps=40)
    return job


def test_it_starts_a_training_job(owner_client, rl_model):
    response = owner_client.post(reverse(TRAINING_JOBS), {"model": str(rl_model.pk), "max_minutes": 0.5},
                                 content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["max_minutes"], body["model"]) == ("QUEUED", 0.5, str(rl_model.pk))
    assert TrainingJob.objects.get(pk=body["id"]).model == rl_model


def test_it_says_why_a_job_cannot_start(owner_client, rl_model, training_job):
    response = owner_client.post(reverse(TRAINING_JOBS), {"model": str(rl_model.pk)}, content_type="application/json")
    assert response.status_code == 400 and "already has a training" in response.json()["detail"]
    response = owner_client.post(reverse(TRAINING_JOBS), {"model": str(rl_model.pk), "max_minutes": -3},
                                 content_type="application/json")
    assert response.status_code == 400 and "max_minutes" in response.json()


def test_it_lists_and_details_only_the_owners_jobs(owner_client, stranger, training_job):
    make_model(stranger, name="Theirs")
    services.training_start(make_model(stranger, name="Theirs-2"), enqueue=False)
    listing = owner_client.get(reverse(TRAINING_JOBS)).json()
    assert [job["id"] for job in listing] == [training_job.pk]
    detail = owner_client.get(reverse("training:training-job-detail", args=[training_job.pk])).json()
    assert detail["status"] == "QUEUED" and detail["remaining_seconds"] == 600.0


def test_it_serves_the_metrics(owner_client, training_job):
    metrics = owner_client.get(reverse("training:training-job-metrics", args=[training_job.pk])).json()
    assert metrics["iterations"] == [{"iteration": 1, "average_reward": 3.0}]
    assert metrics["episodes"][0]["progress"] == 12.5


def test_it_stops_a_job(owner_client, training_job):
    url = reverse("training:training-job-stop", args=[training_job.pk])
    assert owner_client.post(url).json()["status"] == "CANCELED"
    assert owner_client.post(url).status_code == 400


def test_it_starts_and_stops_an_evaluation(owner_client, trained_rl_model):
    response = owner_client.post(reverse(EVALUATION_JOBS), {"model": str(trained_rl_model.pk), "track": "oval",
                                                            "trials": 5, "continuous": True},
                                 content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["track"], body["trials"], body["continuous"], body["status"]) == ("oval", 5, True, "QUEUED")
    stop = owner_client.post(reverse("training:evaluation-job-stop", args=[body["id"]]))
    assert stop.json()["status"] == "CANCELED"
    assert [job["id"] for job in owner_client.get(reverse(EVALUATION_JOBS)).json()] == [body["id"]]


def test_it_validates_an_evaluation_request(owner_client, trained_rl_model, rl_model):
    url = reverse(EVALUATION_JOBS)
    bad = owner_client.post(url, {"model": str(trained_rl_model.pk), "trials": 2}, content_type="application/json")
    assert bad.status_code == 400 and "trials" in bad.json()
    bad = owner_client.post(url, {"model": str(trained_rl_model.pk), "race_type": {"race_type": "DRAG"}},
                            content_type="application/json")
    assert bad.status_code == 400 and "race_type" in bad.json()
    untrained = owner_client.post(url, {"model": str(rl_model.pk)}, content_type="application/json")
    assert untrained.status_code == 400 and "no trained checkpoint" in untrained.json()["detail"]
    assert not EvaluationJob.objects.exists()


def test_it_hides_jobs_and_models_from_a_stranger(stranger_client, rl_model, training_job, trained_rl_model):
    evaluation = services.evaluation_start(trained_rl_model, track="oval", enqueue=False)
    assert stranger_client.get(reverse(TRAINING_JOBS)).json() == []
    assert stranger_client.get(reverse(EVALUATION_JOBS)).json() == []
    for name, pk in [("training:training-job-detail", training_job.pk), ("training:training-job-metrics", training_job.pk),
                     ("training:evaluation-job-detail", evaluation.pk)]:
        assert stranger_client.get(reverse(name, args=[pk])).status_code == 404
    for name, pk in [("training:training-job-stop", training_job.pk), ("training:evaluation-job-stop", evaluation.pk)]:
        assert stranger_client.post(reverse(name, args=[pk])).status_code == 404
    start = stranger_client.post(reverse(TRAINING_JOBS), {"model": str(rl_model.pk)}, content_type="application/json")
    assert start.status_code == 404
    training_job.refresh_from_db()
    assert training_job.status == JobStatus.QUEUED


def test_it_requires_a_signed_in_user(client, training_job):
    assert client.get(reverse(TRAINING_JOBS)).status_code == 403
    assert client.get(reverse(EVALUATION_JOBS)).status_code == 403


def test_it_refuses_wrong_methods(owner_client, training_job):
    detail = reverse("training:training-job-detail", args=[training_job.pk])
    assert owner_client.delete(detail).status_code == 405
    assert owner_client.put(detail, {}, content_type="application/json").status_code == 405
    assert owner_client.get(reverse("training:training-job-stop", args=[training_job.pk])).status_code == 405
    assert owner_client.post(reverse("training:training-job-metrics", args=[training_job.pk])).status_code == 405


@pytest.mark.parametrize("route, job_class, fields", [
    (TRAINING_JOBS, TrainingJob, {"max_minutes": 10}),
    (EVALUATION_JOBS, EvaluationJob, {"track": "oval"}),
])
def test_it_lists_jobs_without_a_query_per_row(owner_client, owner, route, job_class, fields, queries_of,
                                              django_assert_max_num_queries):
    job_class.objects.create(model=make_model(owner, name="first"), status=JobStatus.COMPLETED, **fields)
    few = queries_of(lambda: owner_client.get(reverse(route)))
    for number in range(4):
        job_class.objects.create(model=make_model(owner, name=f"more-{number}"), status=JobStatus.FAILED, **fields)
    with django_assert_max_num_queries(few):
        listed = owner_client.get(reverse(route)).json()
    assert len(listed) == 5


def test_it_requires_a_signed_in_user_for_every_job_endpoint(client, rl_model, training_job):
    evaluation = EvaluationJob.objects.create(model=rl_model, track="oval")
    for name, pk in [("training:training-job-detail", training_job.pk), ("training:training-job-metrics", training_job.pk),
                     ("training:evaluation-job-detail", evaluation.pk)]:
        assert client.get(reverse(name, args=[pk])).status_code == 403, name
    for name, pk in [("training:training-job-stop", training_job.pk), ("training:evaluation-job-stop", evaluation.pk)]:
        assert client.post(reverse(name, args=[pk])).status_code == 403, name
    assert client.post(reverse(EVALUATION_JOBS), {"model": str(rl_model.pk), "track": "oval"},
                       content_type="application/json").status_code == 403
    assert EvaluationJob.objects.count() == 1 and not TrainingJob.objects.get(pk=training_job.pk).stop_requested


def test_it_keeps_a_stranger_from_evaluating_my_model(stranger_client, rl_model):
    response = stranger_client.post(reverse(EVALUATION_JOBS), {"model": str(rl_model.pk), "track": "oval"},
                                    content_type="application/json")
    assert response.status_code == 404 and not EvaluationJob.objects.exists()


def test_it_refuses_wrong_methods_on_evaluation_jobs(owner_client, rl_model):
    evaluation = EvaluationJob.objects.create(model=rl_model, track="oval")
    detail = reverse("training:evaluation-job-detail", args=[evaluation.pk])
    assert owner_client.delete(detail).status_code == 405
    assert owner_client.patch(detail, {}, content_type="application/json").status_code == 405
    assert owner_client.get(reverse("training:evaluation-job-stop", args=[evaluation.pk])).status_code == 405
    assert owner_client.delete(reverse(EVALUATION_JOBS)).status_code == 405


def test_it_continues_a_stopped_training(owner_client, stranger_client, training_job,
                                         django_capture_on_commit_callbacks):
    from django.utils import timezone

    url = reverse("training:training-job-continue", args=[training_job.pk])
    refused = owner_client.post(url, {}, content_type="application/json")
    assert refused.status_code == 400 and "only a finished one can continue" in refused.json()["detail"]
    TrainingJob.objects.filter(pk=training_job.pk).update(status=JobStatus.COMPLETED, stop_reason="stopped",
                                                          started_at=timezone.now(), elapsed_seconds=60.0)
    assert owner_client.post(url, {"minutes": 0}, content_type="application/json").json()["minutes"]
    assert stranger_client.post(url, {}, content_type="application/json").status_code == 404
    assert owner_client.get(url).status_code == 405
    with django_capture_on_commit_callbacks() as enqueued:
        body = owner_client.post(url, {"minutes": 2}, content_type="application/json").json()
    assert (body["status"], body["max_minutes"], body["stop_reason"], len(enqueued)) == ("QUEUED", 3.0, "", 1)
