"""`manage.py train` and `manage.py evaluate`: headless runs with a progress bar and a line per iteration/trial."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from training.models import EvaluationJob, JobStatus, TrainingJob


def test_it_trains_headless_with_a_line_per_iteration(rl_model):
    out = StringIO()
    call_command("train", str(rl_model.pk), "--iterations", "1", stdout=out)
    text = out.getvalue()
    assert "iteration    1  reward" in text and "evaluation" in text
    assert "Training completed (max_iterations): 1 iterations" in text
    job = TrainingJob.objects.get(model=rl_model)
    assert job.status == JobStatus.COMPLETED


def test_it_finds_the_model_by_name(rl_model):
    with pytest.raises(CommandError, match="No model 'Nope'"):
        call_command("train", "Nope", stdout=StringIO())
    with pytest.raises(CommandError, match="at least 1"):
        call_command("train", rl_model.name, "--iterations", "0", stdout=StringIO())


def test_it_evaluates_headless_with_a_line_per_trial(trained_rl_model):
    out = StringIO()
    call_command("evaluate", trained_rl_model.name, "--owner", "owner", "--track", "oval", "--trials", "3", stdout=out)
    text = out.getvalue()
    assert all(f"trial {n}  time 00:" in text for n in (1, 2, 3))
    assert "Video:" in text and "Evaluation completed." in text
    assert EvaluationJob.objects.get(model=trained_rl_model).status == JobStatus.COMPLETED


def test_it_refuses_to_evaluate_an_untrained_model(rl_model):
    with pytest.raises(CommandError, match="no trained checkpoint"):
        call_command("evaluate", str(rl_model.pk), stdout=StringIO())
