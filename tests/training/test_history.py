import json
import shutil
from pathlib import Path

from training import history

SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "deepracer-logs" / "sample-drfc-1-logs"


def test_it_reads_the_sample_folders_27_finished_iterations_and_drops_the_unfinished_one():
    past = history.read_training_history(SAMPLE)
    assert len(past.iterations) == 27  # 541 training episodes: the 541st began an iteration that never ended
    assert [r["iteration"] for r in past.iterations] == list(range(1, 28))
    assert past.iterations[-1]["episodes"] == 540 and len(past.episodes) == 540
    first = past.iterations[0]
    assert first["average_reward"] == 13.55 and first["average_evaluation_completion"] == 14.0
    assert first["evaluation_episodes"] == 3 and first["best"]
    best = [r for r in past.iterations if r["best"]][-1]
    assert best["iteration"] == past.best_iteration and best["average_evaluation_completion"] == 100.0
    assert past.elapsed_seconds > 3000


def test_it_counts_each_episodes_steps_from_its_iterations_sim_trace():
    past = history.read_training_history(SAMPLE)
    with open(SAMPLE / "training-simtrace" / "0-iteration.csv") as trace:
        rows = [line.split(",", 1)[0] for line in trace.readlines()[1:]]
    assert past.episodes[0]["steps"] == rows.count("0") > 0
    assert past.episodes[20]["steps"] > 0  # this SimApp numbers episodes on across iteration files
    assert all(point["steps"] > 0 for point in past.episodes)


def test_it_reads_each_evaluation_as_trials_with_lap_times():
    evaluations = history.read_evaluations(SAMPLE)
    assert [e.stamp for e in evaluations] == ["20220709200242", "20220709200509", "20220709200711"]
    trial = evaluations[0].trials[0]
    # DeepRacer marks a finished lap of a multi-lap evaluation "In progress": 100 % is a lap.
    assert trial["status"] == "lap_complete" and trial["time"] == "00:14.792" and trial["steps"] > 100
    figures = history.figures(history.read_training_history(SAMPLE), evaluations)
    assert figures["iterations"] == 27 and figures["evaluations"] == 3
    assert figures["best_evaluation_completion"] == 100.0 and figures["best_lap"] == "00:13.392"


def _records(episodes, per_iteration, evaluations=True, start=0):
    records = []
    for number in range(1, episodes + 1):
        records.append({"reward_score": 10 + start, "metric_time": number * 1000, "start_time": number * 1000 - 900,
                        "elapsed_time_in_milliseconds": 900, "episode": number,
                        "trial": (number - 1) % per_iteration + 1, "phase": "training",
                        "completion_percentage": 20 + start, "episode_status": "Off track"})
        if evaluations and number % per_iteration == 0:
            records.append({"reward_score": 0, "metric_time": number * 1000 + 500, "start_time": number * 1000,
                            "elapsed_time_in_milliseconds": 500, "episode": number, "trial": 1,
                            "phase": "evaluation", "completion_percentage": number, "episode_status": "Off track"})
    return {"metrics": records, "version": 2.0, "best_model_metric": "progress"}


def test_it_joins_every_workers_metrics_iteration_by_iteration(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "TrainingMetrics.json").write_text(json.dumps(_records(6, 3)))
    (tmp_path / "metrics" / "TrainingMetrics_1.json").write_text(json.dumps(_records(7, 3, evaluations=False, start=10)))
    past = history.read_training_history(tmp_path)
    assert len(past.iterations) == 2  # worker 0 finished two iterations
    assert past.iterations[0]["average_reward"] == 15.0  # 3 episodes at 10 and 3 at 20
    assert past.iterations[1]["episodes"] == 12 and past.iterations[1]["average_evaluation_completion"] == 6.0
    assert len([p for p in past.episodes if p["iteration"] == 1]) == 6


def test_it_has_no_history_without_metrics(tmp_path):
    shutil.copytree(SAMPLE / "training-simtrace", tmp_path / "training-simtrace")
    assert history.read_training_history(tmp_path).iterations == []
    assert history.read_evaluations(tmp_path) == []
