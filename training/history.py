"""A model folder's past, read back from its DeepRacer files (SPEC 5.2, 5.3), for models trained
elsewhere: the reward graph's per-iteration records and episode points, each evaluation's trials, and the
figures a racer compares (best completion, lap times). No Django, no torch.

DeepRacer's TrainingMetrics.json lists the training episodes of an iteration followed by the evaluation
episodes that came after its policy update; training episodes after the last evaluation belong to an
iteration that never finished (the run stopped), as our engine also drops them. Several workers write
``TrainingMetrics_<n>.json`` each; their iterations line up by position.
"""

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from training import artifacts

# SPEC 5.3's statuses, back to the names our engine and pages use.
STATUS_KEYS = {label: key for key, label in artifacts.METRICS_STATUS.items()}
FULL_LAP = 100
EVALUATION_METRICS = re.compile(r"^EvaluationMetrics-(\d+)\.json$")
WORKER_METRICS = re.compile(r"^TrainingMetrics(?:_(\d+))?\.json$")


@dataclass
class TrainingHistory:
    iterations: list[dict] = field(default_factory=list)
    episodes: list[dict] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    best_iteration: int | None = None


@dataclass
class PastEvaluation:
    stamp: str
    trials: list[dict]


def status_key(record: dict) -> str:
    # DeepRacer marks a finished lap of a multi-lap evaluation "In progress" (the run went on).
    if record.get("completion_percentage", 0) >= FULL_LAP:
        return "lap_complete"
    label = str(record.get("episode_status", ""))
    return STATUS_KEYS.get(label, label.lower().replace(" ", "_"))


# -------------------------------------------------------------------------------------------- training

def read_training_history(folder: Path) -> TrainingHistory:
    """Per-iteration records as our engine reports them, from every worker's TrainingMetrics file."""
    folder = Path(folder)
    workers = _worker_metrics(folder)
    if not workers:
        return TrainingHistory()
    grouped = {worker: _iterations(records) for worker, records in workers.items()}
    count = len(grouped[min(grouped)])
    history, best, elapsed = TrainingHistory(), None, 0.0
    total_episodes = 0
    for index in range(count):
        training, evaluation = [], []
        for worker, iterations in grouped.items():
            if index < len(iterations):
                training += [(worker, record) for record in iterations[index][0]]
                evaluation += iterations[index][1]
        total_episodes += len(training)
        steps = _trace_steps(folder, grouped, index)
        for worker, record in training:
            history.episodes.append({
                "phase": "training", "iteration": index + 1, "number": int(record.get("episode", 0)),
                "reward": float(record.get("reward_score", 0)), "progress": float(record.get("completion_percentage", 0)),
                "status": status_key(record), "steps": steps.get((worker, int(record.get("trial", 0))), 0)})
        eval_progress = _mean([r.get("completion_percentage", 0) for r in evaluation])
        is_best = eval_progress is not None and (best is None or eval_progress > best)
        if is_best:
            best, history.best_iteration = eval_progress, index + 1
        times = [r for _, r in training] + evaluation
        elapsed = max(elapsed, _elapsed_seconds(workers[min(workers)], times))
        history.iterations.append({
            "iteration": index + 1,
            "average_reward": _mean([r.get("reward_score", 0) for _, r in training]) or 0.0,
            "average_training_completion": _mean([r.get("completion_percentage", 0) for _, r in training]) or 0.0,
            "average_evaluation_completion": eval_progress,
            "evaluation_laps_complete": sum(status_key(r) == "lap_complete" for r in evaluation),
            "evaluation_episodes": len(evaluation),
            "best": is_best, "episodes": total_episodes, "elapsed_seconds": elapsed,
        })
    history.elapsed_seconds = elapsed
    return history


def _worker_metrics(folder: Path) -> dict[int, list[dict]]:
    workers = {}
    for path in sorted((folder / "metrics").glob("TrainingMetrics*.json")):
        match = WORKER_METRICS.match(path.name)
        if match:
            records = [r for r in artifacts.read_metrics(path) if isinstance(r, dict)]
            workers[int(match.group(1) or 0)] = records
    return workers


def _iterations(records: list[dict]) -> list[tuple[list[dict], list[dict]]]:
    """(training records, evaluation records) per finished iteration."""
    if not any(r.get("phase") == "evaluation" for r in records):
        # A worker that never evaluates: its iterations are as long as its trial counter runs.
        per_iteration = max((int(r.get("trial", 0)) for r in records), default=0)
        if per_iteration < 1:
            return []
        return [(records[start:start + per_iteration], [])
                for start in range(0, len(records) - per_iteration + 1, per_iteration)]
    finished, training, evaluation = [], [], []
    for record in records:
        if record.get("phase") == "evaluation":
            evaluation.append(record)
            continue
        if evaluation:
            finished.append((training, evaluation))
            training, evaluation = [], []
        training.append(record)
    if evaluation:
        finished.append((training, evaluation))
    return finished


def _trace_steps(folder: Path, grouped, index: int) -> dict[tuple[int, int], int]:
    """(worker, trial) -> steps of that episode, from the iteration's sim-trace. Its episodes count from 0
    in each file (SPEC 5.2) or, in older SimApps, on from the previous iteration: their order is the trial's."""
    steps = {}
    for worker in grouped:
        base = folder / "training-simtrace" if worker == 0 else folder / str(worker) / "training-simtrace"
        counts = _episode_steps(base / f"{index}-iteration.csv")
        for trial, episode in enumerate(sorted(counts), start=1):
            steps[(worker, trial)] = counts[episode]
    return steps


def _episode_steps(path: Path) -> Counter:
    """Rows per episode number of a sim-trace CSV."""
    if not path.is_file():
        return Counter()
    with path.open(newline="", errors="replace") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        if "episode" not in header:
            return Counter()
        column = header.index("episode")
        counts = Counter()
        for row in reader:
            try:
                counts[int(float(row[column]))] += 1
            except (IndexError, ValueError):
                continue
        return counts


def _elapsed_seconds(all_records: list[dict], upto: list[dict]) -> float:
    starts = [r["start_time"] for r in all_records if isinstance(r.get("start_time"), (int, float))]
    ends = [r["metric_time"] for r in upto if isinstance(r.get("metric_time"), (int, float))]
    if not starts or not ends:
        return 0.0
    return max(0.0, (max(ends) - min(starts)) / 1000.0)


def _mean(values) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return sum(numbers) / len(numbers) if numbers else None


# ------------------------------------------------------------------------------------------ evaluation

def read_evaluations(folder: Path) -> list[PastEvaluation]:
    """Each metrics/EvaluationMetrics-<stamp>.json as trials in our evaluation results' shape."""
    folder = Path(folder)
    found = []
    for path in sorted((folder / "metrics").glob("EvaluationMetrics-*.json")):
        match = EVALUATION_METRICS.match(path.name)
        if not match:
            continue
        stamp = match.group(1)
        counts = _episode_steps(folder / f"evaluation-{stamp}" / artifacts.EVALUATION_SIMTRACE)
        steps = [counts[episode] for episode in sorted(counts)]
        records = [r for r in artifacts.read_metrics(path) if isinstance(r, dict)]
        found.append(PastEvaluation(stamp, [_trial(record, number, steps) for number, record in enumerate(records)]))
    return found


def _trial(record: dict, number: int, steps: list[int]) -> dict:
    seconds = float(record.get("elapsed_time_in_milliseconds", 0)) / 1000.0
    return {"trial": int(record.get("trial", number + 1)), "time": artifacts.format_lap_time(seconds),
            "time_seconds": round(seconds, 3), "completion": float(record.get("completion_percentage", 0)),
            "status": status_key(record), "off_track_count": int(record.get("off_track_count", 0)),
            "off_track_penalty": 0.0, "crash_count": int(record.get("crash_count", 0)), "crash_penalty": 0.0,
            "reset_count": int(record.get("reset_count", 0)), "steps": steps[number] if number < len(steps) else 0}


# ---------------------------------------------------------------------------------------------- figures

def figures(history: TrainingHistory, evaluations: list[PastEvaluation]) -> dict:
    """What the model list and page show of a run done elsewhere."""
    evaluation_progress = [r["average_evaluation_completion"] for r in history.iterations
                           if r["average_evaluation_completion"] is not None]
    training_laps = [e for e in history.episodes if e["status"] == "lap_complete"]
    trials = [trial for evaluation in evaluations for trial in evaluation.trials]
    laps = [trial["time_seconds"] for trial in trials if trial["status"] == "lap_complete"]
    return {
        "iterations": len(history.iterations),
        "episodes": len(history.episodes),
        "training_hours": round(history.elapsed_seconds / 3600.0, 2),
        "best_evaluation_completion": round(max(evaluation_progress), 1) if evaluation_progress else None,
        "best_training_completion": max((e["progress"] for e in history.episodes), default=None),
        "training_laps": len(training_laps),
        "evaluations": len(evaluations),
        "best_lap": artifacts.format_lap_time(min(laps)) if laps else None,
        "best_lap_seconds": min(laps) if laps else None,
        "average_lap": artifacts.format_lap_time(sum(laps) / len(laps)) if laps else None,
    }
