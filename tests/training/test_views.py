"""The training and evaluation tabs: owner sees and acts, a stranger gets 404, wrong methods get 405."""

import pytest
from django.urls import reverse

from models_app.models import ImportedTrack
from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from training import services
from training.models import EvaluationJob, JobStatus, TrainingJob


@pytest.fixture
def training_job(rl_model):
    job = services.training_start(rl_model, enqueue=False)
    TrainingJob.objects.filter(pk=job.pk).update(metrics=[{"iteration": 1, "average_reward": 3.0, "best": True}])
    return job


@pytest.fixture
def evaluation(trained_rl_model):
    return EvaluationJob.objects.create(
        model=trained_rl_model, track="oval", status=JobStatus.COMPLETED, video="evaluation-1/video.mp4",
        results=[{"trial": 2, "time": "00:12.000", "time_seconds": 12.0, "status": "lap_complete"},
                 {"trial": 1, "time": "00:10.500", "time_seconds": 10.5, "status": "lap_complete"}])


def _pages(rl_model, training_job):
    return [reverse("training:model", args=[rl_model.pk]),
            reverse("training:model_evaluation", args=[rl_model.pk]),
            reverse("training:state", args=[training_job.pk])]


def test_it_shows_the_training_tab_with_the_live_page_hooks(owner_client, rl_model, training_job):
    response = owner_client.get(reverse("training:model", args=[rl_model.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-socket="/ws/training/{training_job.pk}/"' in page
    assert "vendor/plotly/plotly.min.js" in page and "training/training.js" in page
    assert "Stop training" in page and "Download logs" in page
    assert "reward_function" in page and "3-layer CNN" in page and "Quick Loop" in page
    assert "Gradient descent batch size" in page
    assert page.count("<tr><td>") >= 10  # the action space table


def test_it_offers_to_start_training_a_model_never_trained(owner_client, rl_model):
    page = owner_client.get(reverse("training:model", args=[rl_model.pk])).content.decode()
    assert "not been trained yet" in page and "data-socket" not in page


def test_it_starts_training_from_the_tab(owner_client, rl_model):
    response = owner_client.post(reverse("training:start", args=[rl_model.pk]))
    assert response.status_code == 302
    job = TrainingJob.objects.get(model=rl_model)
    assert job.status == JobStatus.QUEUED
    again = owner_client.post(reverse("training:start", args=[rl_model.pk]), follow=True)
    assert "already has a training or evaluation job" in again.content.decode()


def test_it_stops_training(owner_client, training_job):
    response = owner_client.post(reverse("training:stop", args=[training_job.pk]))
    assert response.status_code == 302
    training_job.refresh_from_db()
    assert training_job.status == JobStatus.CANCELED and training_job.stop_requested


def test_it_serves_the_backfill_state(owner_client, training_job):
    state = owner_client.get(reverse("training:state", args=[training_job.pk])).json()
    assert state["status"] == "QUEUED" and state["iterations"][0]["average_reward"] == 3.0
    assert state["episodes"] == [] and state["logs"] == [] and state["remaining_seconds"] == 600.0


def test_it_downloads_the_log_once_there_is_one(owner_client, training_job):
    url = reverse("training:logs", args=[training_job.pk])
    assert owner_client.get(url).status_code == 404
    path = services.training_log_path(training_job)
    path.parent.mkdir(parents=True)
    path.write_text("Training started\nSIM_TRACE_LOG:0,1\n")
    response = owner_client.get(url)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"Training started")
    assert owner_client.get(reverse("training:state", args=[training_job.pk])).json()["logs"] == ["Training started"]


def test_it_starts_an_evaluation_from_the_form(owner_client, trained_rl_model):
    url = reverse("training:model_evaluation", args=[trained_rl_model.pk])
    assert "Start evaluation" in owner_client.get(url).content.decode()
    response = owner_client.post(url, {"track": "oval", "reversed": "true", "race_type": "OBJECT_AVOIDANCE",
                                       "object_count": 2, "trials": 4, "continuous": "on",
                                       "off_track_penalty": 3, "collision_penalty": 5})
    evaluation = EvaluationJob.objects.get(model=trained_rl_model)
    assert response.status_code == 302 and response["Location"] == reverse("training:evaluation", args=[evaluation.pk])
    assert (evaluation.track, evaluation.track_reversed, evaluation.trials, evaluation.continuous) == ("oval", True, 4, True)
    assert evaluation.race_type == {"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": True}


def test_it_shows_form_errors_for_a_bad_evaluation(owner_client, rl_model):
    url = reverse("training:model_evaluation", args=[rl_model.pk])
    response = owner_client.post(url, {"track": "oval", "reversed": "false", "race_type": "TIME_TRIAL", "trials": 9,
                                       "off_track_penalty": 5, "collision_penalty": 5})
    assert response.status_code == 400 and "less than or equal to 5" in response.content.decode()
    response = owner_client.post(url, {"track": "oval", "reversed": "false", "race_type": "TIME_TRIAL", "trials": 3,
                                       "off_track_penalty": 5, "collision_penalty": 5})
    assert response.status_code == 400 and "no trained checkpoint" in response.content.decode()
    assert not EvaluationJob.objects.exists()


def test_it_lists_past_evaluations_and_shows_one(owner_client, evaluation):
    listing = owner_client.get(reverse("training:model_evaluation", args=[evaluation.model_id])).content.decode()
    assert reverse("training:evaluation", args=[evaluation.pk]) in listing and "00:10.500" in listing
    page = owner_client.get(reverse("training:evaluation", args=[evaluation.pk])).content.decode()
    assert f'data-socket="/ws/evaluation/{evaluation.pk}/"' in page and "evaluation-results" in page


def test_it_serves_the_evaluation_state_and_video_to_the_owner(owner_client, evaluation):
    state_url = reverse("training:evaluation_state", args=[evaluation.pk])
    video_url = reverse("training:evaluation_video", args=[evaluation.pk])
    assert owner_client.get(state_url).json()["video_url"] is None
    assert owner_client.get(video_url).status_code == 404
    video = evaluation.model.folder / evaluation.video
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    state = owner_client.get(state_url).json()
    assert [trial["trial"] for trial in state["results"]] == [1, 2] and state["video_url"] == video_url
    response = owner_client.get(video_url)
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"


def test_it_lets_the_player_seek_in_the_video(owner_client, stranger_client, evaluation):
    video = evaluation.model.folder / evaluation.video
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
    url = reverse("training:evaluation_video", args=[evaluation.pk])
    part = owner_client.get(url, HTTP_RANGE="bytes=4-11")
    assert part.status_code == 206 and part["Content-Range"] == "bytes 4-11/1012"
    assert b"".join(part.streaming_content) == b"ftypmp42"
    assert owner_client.get(url, HTTP_RANGE="bytes=5000-").status_code == 416
    assert stranger_client.get(url, HTTP_RANGE="bytes=4-11").status_code == 404


def test_it_refuses_a_video_path_outside_the_model_folder(owner_client, evaluation):
    EvaluationJob.objects.filter(pk=evaluation.pk).update(video="../../etc/passwd")
    assert owner_client.get(reverse("training:evaluation_video", args=[evaluation.pk])).status_code == 404


def test_it_stops_an_evaluation(owner_client, trained_rl_model):
    evaluation = services.evaluation_start(trained_rl_model, track="quick_loop", enqueue=False)
    response = owner_client.post(reverse("training:evaluation_stop", args=[evaluation.pk]))
    assert response.status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.status == JobStatus.CANCELED


def test_it_hides_everything_from_a_stranger(stranger_client, rl_model, training_job, evaluation):
    urls = _pages(rl_model, training_job) + [
        reverse("training:logs", args=[training_job.pk]),
        reverse("training:evaluation", args=[evaluation.pk]),
        reverse("training:evaluation_state", args=[evaluation.pk]),
        reverse("training:evaluation_video", args=[evaluation.pk]),
    ]
    for url in urls:
        assert stranger_client.get(url).status_code == 404, url
    for url in [reverse("training:start", args=[rl_model.pk]), reverse("training:stop", args=[training_job.pk]),
                reverse("training:evaluation_stop", args=[evaluation.pk])]:
        assert stranger_client.post(url).status_code == 404, url
    training_job.refresh_from_db()
    assert training_job.status == JobStatus.QUEUED and not training_job.stop_requested


def test_it_sends_anonymous_visitors_to_sign_in(client, rl_model, training_job):
    for url in _pages(rl_model, training_job):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_refuses_wrong_methods(owner_client, rl_model, training_job, evaluation):
    for url in _pages(rl_model, training_job)[:1] + [reverse("training:state", args=[training_job.pk]),
                                                     reverse("training:evaluation", args=[evaluation.pk])]:
        assert owner_client.post(url).status_code == 405, url
    for url in [reverse("training:start", args=[rl_model.pk]), reverse("training:stop", args=[training_job.pk]),
                reverse("training:evaluation_stop", args=[evaluation.pk])]:
        assert owner_client.get(url).status_code == 405, url
    assert owner_client.put(reverse("training:model_evaluation", args=[rl_model.pk])).status_code == 405


def test_it_puts_the_tabs_and_a_summary_on_the_model_page(owner_client, training_job, evaluation):
    page = owner_client.get(reverse("models:detail", args=[training_job.model_id])).content.decode()
    assert 'data-testid="training-summary"' in page and "Queued" in page
    assert reverse("training:model", args=[training_job.model_id]) in page
    assert reverse("training:model_evaluation", args=[training_job.model_id]) in page


def test_it_backfills_only_the_newest_episode_points(owner_client, training_job, monkeypatch):
    from training.models import TrainingEpisode

    monkeypatch.setattr(services, "MAX_EPISODE_POINTS", 2)
    for number in (1, 2, 3):
        TrainingEpisode.objects.create(job=training_job, phase="training", iteration=1, number=number, reward=1.0,
                                       progress=10.0 * number, status="off_track", steps=20)
    state = owner_client.get(reverse("training:state", args=[training_job.pk])).json()
    assert [point["episode"] for point in state["episodes"]] == [2, 3]


def test_it_lists_evaluations_on_imported_tracks_without_a_query_per_row(owner_client, owner, rl_model, queries_of,
                                                                         django_assert_max_num_queries):
    track = ImportedTrack.objects.create(owner=owner, title="Backyard Oval", npy=b"", length=20, width=1)
    url = reverse("training:model_evaluation", args=[rl_model.pk])
    EvaluationJob.objects.create(model=rl_model, track=track.slug, status=JobStatus.FAILED)
    one_row = queries_of(lambda: owner_client.get(url))
    EvaluationJob.objects.bulk_create([EvaluationJob(model=rl_model, track=track.slug, status=JobStatus.COMPLETED)
                                       for _ in range(4)])
    with django_assert_max_num_queries(one_row):
        listing = owner_client.get(url).content.decode()
    assert listing.count("Backyard Oval") == 5


@pytest.mark.parametrize("reason, shown", [("The reward function raised ZeroDivisionError.",
                                             "The reward function raised ZeroDivisionError."),
                                            ("", "failed without a recorded reason")])
def test_it_says_why_training_failed(owner_client, rl_model, training_job, reason, shown):
    TrainingJob.objects.filter(pk=training_job.pk).update(status=JobStatus.FAILED, failure_reason=reason)
    page = owner_client.get(reverse("training:model", args=[rl_model.pk])).content.decode()
    assert shown in page and 'data-field="failure" hidden' not in page
    assert shown in owner_client.get(reverse("training:state", args=[training_job.pk])).json()["failure_reason"]


@pytest.mark.parametrize("reason, shown", [("The track user-7 no longer exists.", "The track user-7 no longer exists."),
                                            ("", "failed without a recorded reason")])
def test_it_says_why_an_evaluation_failed(owner_client, rl_model, reason, shown):
    evaluation = EvaluationJob.objects.create(model=rl_model, track="oval", status=JobStatus.FAILED,
                                              failure_reason=reason)
    page = owner_client.get(reverse("training:evaluation", args=[evaluation.pk])).content.decode()
    assert shown in page and 'data-field="failure" hidden' not in page
    assert shown in owner_client.get(reverse("training:evaluation_state", args=[evaluation.pk])).json()["failure_reason"]


def _video_box(page: str) -> str:
    return page[page.index('<div class="video-frame">'):page.index("</div>", page.index('<div class="video-frame">'))]


@pytest.mark.parametrize("status, shown", [(JobStatus.IN_PROGRESS, "The video starts when the simulation is running."),
                                            (JobStatus.COMPLETED, "This evaluation recorded no video."),
                                            (JobStatus.FAILED, "This evaluation recorded no video.")])
def test_it_promises_an_evaluation_video_only_while_it_runs(owner_client, rl_model, status, shown):
    evaluation = EvaluationJob.objects.create(model=rl_model, track="oval", status=status)
    box = _video_box(owner_client.get(reverse("training:evaluation", args=[evaluation.pk])).content.decode())
    assert shown in box and 'data-finished-text="This evaluation recorded no video."' in box


def test_it_shows_a_finished_evaluations_video_in_the_page(owner_client, rl_model):
    evaluation = EvaluationJob.objects.create(model=rl_model, track="oval", status=JobStatus.COMPLETED,
                                              video="evaluation-1/video.mp4")
    video = rl_model.folder / evaluation.video
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    box = _video_box(owner_client.get(reverse("training:evaluation", args=[evaluation.pk])).content.decode())
    assert f'src="{reverse("training:evaluation_video", args=[evaluation.pk])}"' in box
    assert "data-video-placeholder" not in box


@pytest.mark.parametrize("status, shown", [(JobStatus.IN_PROGRESS, "The video starts when the simulation is running."),
                                            (JobStatus.COMPLETED, "Training has ended"),
                                            (JobStatus.FAILED, "Training has ended")])
def test_it_promises_the_training_video_only_while_it_runs(owner_client, rl_model, training_job, status, shown):
    TrainingJob.objects.filter(pk=training_job.pk).update(status=status)
    box = _video_box(owner_client.get(reverse("training:model", args=[rl_model.pk])).content.decode())
    assert shown in box


def _all_job_urls(rl_model, training_job, evaluation) -> tuple[list[str], list[str]]:
    """Every training-app page: (read with GET, act with POST)."""
    reads = _pages(rl_model, training_job) + [reverse("training:logs", args=[training_job.pk]),
                                             reverse("training:evaluation", args=[evaluation.pk]),
                                             reverse("training:evaluation_state", args=[evaluation.pk]),
                                             reverse("training:evaluation_video", args=[evaluation.pk])]
    acts = [reverse("training:start", args=[rl_model.pk]), reverse("training:stop", args=[training_job.pk]),
            reverse("training:model_evaluation", args=[rl_model.pk]),
            reverse("training:evaluation_stop", args=[evaluation.pk])]
    return reads, acts


def test_it_sends_anonymous_visitors_to_sign_in_from_every_page(client, rl_model, training_job):
    evaluation = EvaluationJob.objects.create(model=rl_model, track="oval")
    reads, acts = _all_job_urls(rl_model, training_job, evaluation)
    for url in reads:
        assert client.get(url).status_code == 302, url
    for url in acts:
        assert client.post(url).status_code == 302, url
    assert EvaluationJob.objects.count() == 1 and not TrainingJob.objects.get(pk=training_job.pk).stop_requested


def test_it_keeps_a_stranger_from_evaluating_my_model(stranger_client, rl_model):
    response = stranger_client.post(reverse("training:model_evaluation", args=[rl_model.pk]),
                                    {"track": "oval", "reversed": "false", "race_type": "TIME_TRIAL", "trials": 1,
                                     "off_track_penalty": 5, "collision_penalty": 5})
    assert response.status_code == 404 and not EvaluationJob.objects.exists()


def test_it_refuses_to_change_anything_through_the_read_only_pages(owner_client, rl_model, training_job):
    evaluation = EvaluationJob.objects.create(model=rl_model, track="oval")
    for url in [reverse("training:logs", args=[training_job.pk]),
                reverse("training:evaluation_state", args=[evaluation.pk]),
                reverse("training:evaluation_video", args=[evaluation.pk])]:
        assert owner_client.post(url).status_code == 405, url


def _fail(job, **fields):
    from django.utils import timezone

    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, started_at=timezone.now(),
                                                 failure_reason="WorkerDied: gone", **fields)


def test_it_offers_to_continue_a_failed_training_and_queues_it_again(owner_client, rl_model, training_job,
                                                                      django_capture_on_commit_callbacks):
    _fail(training_job, elapsed_seconds=300.0)
    page = owner_client.get(reverse("training:model", args=[rl_model.pk])).content.decode()
    assert 'data-testid="continue-training"' in page and 'value="5.0"' in page  # 10 min limit, 5 left
    assert 'data-testid="stop-training"' not in page
    with django_capture_on_commit_callbacks() as enqueued:
        response = owner_client.post(reverse("training:continue", args=[training_job.pk]), {"minutes": "3"})
    assert response.status_code == 302 and len(enqueued) == 1
    training_job.refresh_from_db()
    assert (training_job.status, training_job.max_minutes, training_job.metrics[0]["iteration"]) == (
        JobStatus.QUEUED, 8.0, 1)


def test_it_says_why_it_cannot_continue(owner_client, rl_model, training_job):
    response = owner_client.post(reverse("training:continue", args=[training_job.pk]), follow=True)
    assert "only a finished one can continue" in response.content.decode()
    _fail(training_job)
    response = owner_client.post(reverse("training:continue", args=[training_job.pk]), {"minutes": "-1"}, follow=True)
    assert "More minutes: Ensure this value is greater than or equal to 0.1." in response.content.decode()
    training_job.refresh_from_db()
    assert training_job.status == JobStatus.FAILED


def test_it_says_the_system_stopped_a_job_that_will_resume(owner_client, rl_model, training_job):
    message = "The console stopped while this job ran (SIGINT). Nothing is lost: it resumes by itself."
    TrainingJob.objects.filter(pk=training_job.pk).update(status=JobStatus.INTERRUPTED, failure_reason=message)
    page = owner_client.get(reverse("training:model", args=[rl_model.pk])).content.decode()
    assert "Stopped by the system" in page and message in page and "status-interrupted" in page
    assert 'data-testid="stop-training"' in page and 'data-testid="continue-training"' not in page


def test_it_keeps_a_stranger_from_continuing_my_training(stranger_client, owner_client, training_job):
    _fail(training_job)
    url = reverse("training:continue", args=[training_job.pk])
    assert stranger_client.post(url).status_code == 404
    assert owner_client.get(url).status_code == 405
    training_job.refresh_from_db()
    assert training_job.status == JobStatus.FAILED
