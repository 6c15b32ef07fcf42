"""Log analysis of a model folder: what racers do in deepracer-analysis notebooks, done server-side.

Reads the sim-traces (SPEC 5.2) of ``training-simtrace/`` and of each ``evaluation-<ts>/`` folder, from
our own training or from an imported DeepRacer / deepracer-for-cloud folder, into column arrays
(pandas' C parser), and caches each CSV as an ``.npz`` keyed by the CSV's size and mtime: a finished
iteration is parsed once, and a running training only parses its new iteration. Every view below is a
plain function of those arrays (and of the Track they were driven on) returning JSON-ready dicts that
the Analysis tab plots with Plotly and the REST API serves to notebooks.

Plain Python (pandas, NumPy, SciPy): no Django, so a notebook can import it too.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from simulator.episode import STEP_SECONDS, Status
from simulator.racing_line import track_outline  # noqa: F401 (the analyses' track picture)
from simulator.spec import STEERING_LIMIT
from simulator.tracks import Track
from training import artifacts

STATUSES = tuple(status.value for status in Status)  # the sim-trace spellings; a step's status is its index
STATUS_CODE = {name: code for code, name in enumerate(STATUSES)}
LAP_COMPLETE, OFF_TRACK, CRASHED = (STATUS_CODE[status] for status in (Status.LAP_COMPLETE, Status.OFF_TRACK,
                                                                       Status.CRASHED))
CACHE_VERSION = 1  # bump when the cached arrays change shape
HEATMAP_CELL = 0.05  # m: fine enough to see the lanes of a 0.76 m road
HEATMAP_KINDS = ("visits", "reward", "speed", "steering")
SECTORS = 3
MAX_LAPS = 100  # complete laps sent at once (the fastest ones)
# A track section is a turn when its radius is under this (m), measured over about CURVATURE_WINDOW m.
TURN_RADIUS = 2.5
CURVATURE_WINDOW = 0.6
SPEED_BINS = 20
STEERING_BINS = 20
COLUMNS = ("iteration", "episode", "steps", "x", "y", "yaw", "steer", "throttle", "action", "reward",
           "progress", "tstamp", "wall_clock", "status", "all_wheels_on_track", "closest_waypoint")
EVALUATION_FOLDER = re.compile(r"^evaluation-(\d{14})$")
TRAINING_FILE = re.compile(r"^(\d+)-iteration\.csv$")


class AnalysisError(ValueError):
    """A sim-trace that cannot be read, or a request for something the logs do not hold."""


# ---------------------------------------------------------------------------------------- the steps


@dataclass
class Steps:
    """Sim-trace rows as column arrays (COLUMNS), sorted by iteration, episode and step. ``status`` is a
    code into STATUSES; ``action`` is -1 for a continuous action; ``wall_clock`` is NaN where the trace
    has none (DeepRacer's own traces)."""

    columns: dict[str, np.ndarray]

    def __getattr__(self, name):
        try:
            return self.__dict__["columns"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(self.columns["x"])

    def take(self, selector) -> Steps:
        return Steps({name: values[selector] for name, values in self.columns.items()})

    @classmethod
    def concatenate(cls, parts: list[Steps]) -> Steps:
        if not parts:
            return empty_steps()
        return cls({name: np.concatenate([part.columns[name] for part in parts]) for name in COLUMNS})

    def iterations(self, first: int | None = None, last: int | None = None) -> Steps:
        """The rows of iterations first..last (inclusive; None = open end)."""
        mask = np.ones(len(self), bool)
        if first is not None:
            mask &= self.iteration >= first
        if last is not None:
            mask &= self.iteration <= last
        return self if mask.all() else self.take(mask)

    def episode_bounds(self) -> np.ndarray:
        """Row index where each episode starts, plus len(self) at the end."""
        if not len(self):
            return np.zeros(1, np.int64)
        key = self.iteration.astype(np.int64) * 1_000_000 + self.episode
        starts = np.flatnonzero(np.diff(key)) + 1
        return np.concatenate(([0], starts, [len(self)]))

    def speeds(self) -> np.ndarray:
        """The car's measured speed (m/s) at each row, from its positions and the sim clock: the trace's
        throttle is the COMMANDED speed. 0 on each episode's first row."""
        distance = np.hypot(np.diff(self.x, prepend=self.x[:1]), np.diff(self.y, prepend=self.y[:1]))
        seconds = np.diff(self.tstamp, prepend=self.tstamp[:1])
        seconds = np.where(seconds > 1e-6, seconds, STEP_SECONDS)
        speeds = distance / seconds
        speeds[self.episode_bounds()[:-1]] = 0.0
        return speeds


def empty_steps() -> Steps:
    kinds = {"iteration": np.int32, "episode": np.int32, "steps": np.int32, "action": np.int16, "status": np.int8,
             "all_wheels_on_track": bool, "closest_waypoint": np.int32}
    return Steps({name: np.zeros(0, kinds.get(name, np.float64)) for name in COLUMNS})


def parse_simtrace(path: Path, iteration: int = 0) -> Steps:
    """One sim-trace CSV (ours, DeepRacer's or deepracer-for-cloud's: optional trailing columns)."""
    try:
        frame = pd.read_csv(path, dtype={"action": str, "episode_status": str, "done": str,
                                         "all_wheels_on_track": str})
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise AnalysisError(f"{Path(path).name} cannot be read as a sim-trace: {error}") from None
    missing = {"episode", "steps", "X", "Y", "yaw", "steer", "throttle", "reward", "progress"} - set(frame.columns)
    if missing:
        raise AnalysisError(f"{Path(path).name} lacks the sim-trace columns {', '.join(sorted(missing))}")
    frame = frame.sort_values(["episode", "steps"], kind="stable")
    count = len(frame)

    def numbers(name, default=np.nan):
        if name not in frame:
            return np.full(count, default, np.float64)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)

    action = pd.to_numeric(frame["action"], errors="coerce") if "action" in frame else pd.Series(np.nan, range(count))
    status = frame.get("episode_status", pd.Series("in_progress", index=frame.index))
    wheels = frame.get("all_wheels_on_track", pd.Series("True", index=frame.index))
    return Steps({
        "iteration": np.full(count, iteration, np.int32),
        "episode": numbers("episode", 0).astype(np.int32),
        "steps": np.nan_to_num(numbers("steps", 0)).astype(np.int32),
        "x": numbers("X"), "y": numbers("Y"), "yaw": numbers("yaw"),
        "steer": numbers("steer"), "throttle": numbers("throttle"),
        "action": action.fillna(-1).to_numpy().astype(np.int16),
        "reward": np.nan_to_num(numbers("reward")),
        "progress": np.nan_to_num(numbers("progress")),
        "tstamp": numbers("tstamp"),
        "wall_clock": numbers("wall_clock"),
        "status": status.map(STATUS_CODE).fillna(STATUS_CODE["in_progress"]).to_numpy().astype(np.int8),
        "all_wheels_on_track": wheels.astype(str).str.lower().eq("true").to_numpy(),
        "closest_waypoint": np.nan_to_num(numbers("closest_waypoint", 0)).astype(np.int32),
    })


class TraceCache:
    """Parsed sim-traces as ``.npz`` files under ``folder``, one per CSV, reused while the CSV's size and
    modification time are unchanged. ``folder=None`` parses every time."""

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder is not None else None

    def load(self, path: Path, iteration: int = 0) -> Steps:
        path = Path(path)
        if self.folder is None:
            return parse_simtrace(path, iteration)
        stat = path.stat()
        stamp = np.array([CACHE_VERSION, stat.st_size, stat.st_mtime_ns, iteration], np.int64)
        cached = self.folder / (hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:20] + ".npz")
        try:
            with np.load(cached) as data:
                if np.array_equal(data["_stamp"], stamp):
                    return Steps({name: data[name] for name in COLUMNS})
        except (OSError, KeyError, ValueError):
            pass  # absent, stale or damaged: parse again
        steps = parse_simtrace(path, iteration)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, _stamp=stamp, **steps.columns)
        os.replace(tmp, cached)
        return steps


RECENT_RANGES = 4  # ranges of steps kept in memory (a 200,000-step range is about 20 MB)
_RECENT: dict[tuple, Steps] = {}
_RECENT_LOCK = threading.Lock()


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


class ModelLogs:
    """The sim-traces of one model folder: training (by iteration) and each evaluation."""

    def __init__(self, model_dir: Path, cache_dir: Path | None = None):
        self.model_dir = Path(model_dir)
        self.cache = TraceCache(cache_dir)

    def training_files(self) -> dict[int, Path]:
        folder = self.model_dir / "training-simtrace"
        files = {}
        if folder.is_dir():
            for path in folder.iterdir():
                match = TRAINING_FILE.match(path.name)
                if match:
                    files[int(match.group(1))] = path
        return dict(sorted(files.items()))

    def training(self, first: int | None = None, last: int | None = None) -> Steps:
        files = {iteration: path for iteration, path in self.training_files().items()
                 if (first is None or iteration >= first) and (last is None or iteration <= last)}
        # The tab asks several endpoints for the same range at once: keep the last few ranges in memory,
        # keyed by the files' sizes and times, so each request does not reload them.
        key = (str(self.model_dir), tuple((i, *_stamp(path)) for i, path in files.items()))
        steps = _RECENT.get(key)
        if steps is None:
            steps = Steps.concatenate([self.cache.load(path, iteration) for iteration, path in files.items()])
            with _RECENT_LOCK:  # the web server answers requests on several threads
                _RECENT[key] = steps
                while len(_RECENT) > RECENT_RANGES:
                    _RECENT.pop(next(iter(_RECENT)))
        return steps

    def evaluations(self) -> list[str]:
        """Evaluation stamps (YYYYmmddHHMMSS) that have a sim-trace, oldest first."""
        stamps = []
        if self.model_dir.is_dir():
            for path in self.model_dir.iterdir():
                match = EVALUATION_FOLDER.match(path.name)
                if match and (path / artifacts.EVALUATION_SIMTRACE).is_file():
                    stamps.append(match.group(1))
        return sorted(stamps)

    def evaluation(self, stamp: str) -> Steps:
        if stamp not in self.evaluations():
            raise AnalysisError(f"there is no evaluation {stamp!r}")
        return self.cache.load(self.model_dir / f"evaluation-{stamp}" / artifacts.EVALUATION_SIMTRACE)

    def has_logs(self) -> bool:
        return bool(self.training_files() or self.evaluations())


# ------------------------------------------------------------------------------------------ episodes


def episodes(steps: Steps) -> pd.DataFrame:
    """One row per episode: iteration, episode, first and end row, steps, reward (sum), progress (last),
    status (last row's code), time (s of sim clock from first to last row), complete."""
    bounds = steps.episode_bounds()
    starts, ends = bounds[:-1], bounds[1:]
    last = ends - 1
    status = steps.status[last]
    return pd.DataFrame({
        "iteration": steps.iteration[starts], "episode": steps.episode[starts],
        "start": starts, "end": ends, "steps": ends - starts,
        "reward": np.add.reduceat(steps.reward, starts) if len(starts) else np.zeros(0),
        "progress": steps.progress[last], "status": status,
        "time": steps.tstamp[last] - steps.tstamp[starts],
        "complete": (status == LAP_COMPLETE) | (steps.progress[last] >= 100.0),
    })


def episode_list(steps: Steps) -> list[dict]:
    table = episodes(steps)
    return [{"iteration": int(row.iteration), "episode": int(row.episode), "steps": int(row.steps),
             "reward": round(float(row.reward), 3), "progress": round(float(row.progress), 2),
             "status": STATUSES[int(row.status)], "time": round(float(row.time), 3)}
            for row in table.itertuples()]


# ------------------------------------------------------------------------------------ per iteration


def iteration_summary(steps: Steps, learner_records: list[dict] | None = None) -> dict:
    """Per iteration: mean reward and progress of its episodes, completion rate, the quintile
    boundaries (20/40/60/80th percentiles) of episode progress and reward, best and mean complete-lap
    time, steps per second (wall clock, or the sim clock when the trace has none) and, from the
    learner's records (training job metrics), its losses and entropy."""
    table = episodes(steps)
    result: dict = {"iteration": [], "episodes": [], "mean_reward": [], "mean_progress": [],
                    "completion_rate": [], "progress_quintiles": [], "reward_quintiles": [],
                    "best_lap_time": [], "mean_lap_time": [], "steps_per_second": [], "losses": {}}
    bounds = _iteration_bounds(steps)
    for iteration, group in table.groupby("iteration", sort=True):
        laps = group.loc[group.complete, "time"]
        first, end = bounds[int(iteration)]
        result["iteration"].append(int(iteration))
        result["episodes"].append(len(group))
        result["mean_reward"].append(_round(group.reward.mean()))
        result["mean_progress"].append(_round(group.progress.mean()))
        result["completion_rate"].append(_round(100.0 * group.complete.mean()))
        result["progress_quintiles"].append(_quintiles(group.progress))
        result["reward_quintiles"].append(_quintiles(group.reward))
        result["best_lap_time"].append(_round(laps.min()) if len(laps) else None)
        result["mean_lap_time"].append(_round(laps.mean()) if len(laps) else None)
        result["steps_per_second"].append(_steps_per_second(steps, first, end))
    result["losses"] = learner_curves(learner_records or [])
    return result


def _iteration_bounds(steps: Steps) -> dict[int, tuple[int, int]]:
    if not len(steps):
        return {}
    starts = np.concatenate(([0], np.flatnonzero(np.diff(steps.iteration)) + 1))
    ends = np.append(starts[1:], len(steps))
    return {int(steps.iteration[s]): (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}


def _steps_per_second(steps: Steps, first: int, end: int) -> float | None:
    clock = steps.wall_clock[first:end]
    if np.isnan(clock).all():
        clock = steps.tstamp[first:end]  # DeepRacer's traces: the sim clock runs in real time
    clock = clock[~np.isnan(clock)]
    span = float(clock.max() - clock.min()) if len(clock) > 1 else 0.0
    return _round((end - first) / span) if span > 0 else None


def _quintiles(values: pd.Series) -> list[float]:
    return [_round(value) for value in np.percentile(values.to_numpy(np.float64), [20, 40, 60, 80])]


def learner_curves(records: list[dict]) -> dict:
    """{"iteration": [...], "losses/<name>": [...]} from the training job's per-iteration records. The
    records count iterations from 1 (the reward graph's numbering), the sim-trace files from 0: the
    curves use the files' numbers, so that iteration n here is n-iteration.csv."""
    names = sorted({key for record in records for key in record if key.startswith("losses/")})
    ordered = sorted((record for record in records if "iteration" in record), key=lambda r: r["iteration"])
    curves = {"iteration": [int(record["iteration"]) - 1 for record in ordered]}
    for name in names:
        curves[name] = [_round(record.get(name)) for record in ordered]
    return curves


# ------------------------------------------------------------------------------------- track views


def heatmap(steps: Steps, track: Track, kind: str = "visits", cell: float = HEATMAP_CELL) -> dict:
    """A grid over the track: visits per cell, or the mean reward, measured speed (m/s) or commanded
    steering (deg) of the steps in it. Empty cells are null (drawn transparent)."""
    if kind not in HEATMAP_KINDS:
        raise AnalysisError(f"kind must be one of {', '.join(HEATMAP_KINDS)}")
    minx, miny, maxx, maxy = track.bounds
    pad = 0.5
    xedges = np.arange(minx - pad, maxx + pad + cell, cell)
    yedges = np.arange(miny - pad, maxy + pad + cell, cell)
    counts, _, _ = np.histogram2d(steps.x, steps.y, bins=(xedges, yedges))
    if kind == "visits":
        grid = np.where(counts > 0, counts, np.nan)
    else:
        weights = {"reward": steps.reward, "speed": steps.speeds(), "steering": steps.steer}[kind]
        sums, _, _ = np.histogram2d(steps.x, steps.y, bins=(xedges, yedges), weights=weights)
        grid = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
    return {"kind": kind, "x": _rounded((xedges[:-1] + xedges[1:]) / 2), "y": _rounded((yedges[:-1] + yedges[1:]) / 2),
            "z": _nullable(grid.T), "steps": len(steps)}


def exits(steps: Steps) -> dict:
    """Where episodes ended off the track or crashed: the last row of each such episode."""
    table = episodes(steps)
    result = {}
    for name, code in (("off_track", OFF_TRACK), ("crashed", CRASHED)):
        rows = table.loc[table.status == code]
        last = (rows.end - 1).to_numpy()
        result[name] = {"x": _rounded(steps.x[last]), "y": _rounded(steps.y[last]),
                        "iteration": rows.iteration.tolist(), "episode": rows.episode.tolist(),
                        "progress": _rounded(steps.progress[last], 2)}
    return result


# ---------------------------------------------------------------------------------------------- laps


def laps(steps: Steps, sectors: int = SECTORS, limit: int = MAX_LAPS) -> dict:
    """Every complete lap (the fastest ``limit``), each with its path, measured speed along it, time and
    sector times (the time to cover each 1/sectors of the lap's progress), fastest first."""
    table = episodes(steps)
    complete = table.loc[table.complete].sort_values("time", kind="stable").head(limit)
    speeds = steps.speeds()
    result = []
    for row in complete.itertuples():
        rows = slice(int(row.start), int(row.end))
        result.append({
            "iteration": int(row.iteration), "episode": int(row.episode), "time": _round(row.time),
            "steps": int(row.steps), "sectors": sector_times(steps.progress[rows], steps.tstamp[rows], sectors),
            "x": _rounded(steps.x[rows]), "y": _rounded(steps.y[rows]), "speed": _rounded(speeds[rows], 2),
        })
    return {"laps": result, "sectors": sectors, "total_episodes": len(table)}


def sector_times(progress: np.ndarray, clock: np.ndarray, sectors: int = SECTORS) -> list[float | None]:
    """Seconds spent in each 1/sectors of the lap's progress, the crossing times interpolated between
    steps (progress only grows on a complete lap, except for the odd back-step, hence the running max)."""
    progress = np.maximum.accumulate(progress)
    marks = np.linspace(0, 100, sectors + 1)
    crossings = [float(clock[0])]
    for mark in marks[1:]:
        after = np.flatnonzero(progress >= mark - 1e-9)
        if not len(after):
            return [None] * sectors
        k = int(after[0])
        if k == 0 or progress[k] == progress[k - 1]:
            crossings.append(float(clock[k]))
        else:
            share = (mark - progress[k - 1]) / (progress[k] - progress[k - 1])
            crossings.append(float(clock[k - 1] + share * (clock[k] - clock[k - 1])))
    return [_round(b - a) for a, b in zip(crossings[:-1], crossings[1:], strict=False)]


def paths(steps: Steps) -> list[dict]:
    """Every episode's path with its measured speed (evaluation trials overlaid)."""
    table = episodes(steps)
    speeds = steps.speeds()
    # DeepRacer's evaluation traces end a finished lap "in_progress" at 100%: call it what it is.
    return [{"episode": int(row.episode), "status": "lap_complete" if row.complete else STATUSES[int(row.status)],
             "progress": _round(row.progress),
             "time": _round(row.time), "x": _rounded(steps.x[row.start:row.end]),
             "y": _rounded(steps.y[row.start:row.end]), "speed": _rounded(speeds[row.start:row.end], 2)}
            for row in table.itertuples()]


# ------------------------------------------------------------------------------------------- actions


def section_types(track: Track) -> np.ndarray:
    """Per centre-line point (without the repeated last one): "straight", "left" or "right", by the
    curvature over about CURVATURE_WINDOW m of centre line."""
    centre = track.centre[:-1]
    segment = np.hypot(*np.diff(track.centre, axis=0).T)
    half = max(1, int(round(CURVATURE_WINDOW / 2 / max(float(np.median(segment)), 1e-6))))
    before, after = np.roll(centre, half, axis=0), np.roll(centre, -half, axis=0)
    heading_in = np.arctan2(*(centre - before).T[::-1])
    heading_out = np.arctan2(*(after - centre).T[::-1])
    turn = (heading_out - heading_in + np.pi) % (2 * np.pi) - np.pi
    length = np.hypot(*(centre - before).T) + np.hypot(*(after - centre).T)
    # The two chords' directions are the tangents half a chord before and after the point.
    curvature = turn / np.maximum(length / 2, 1e-9)
    kinds = np.full(len(centre), "straight", dtype=object)
    kinds[curvature > 1 / TURN_RADIUS] = "left"
    kinds[curvature < -1 / TURN_RADIUS] = "right"
    return kinds


def actions(steps: Steps, track: Track, metadata: dict) -> dict:
    """How often each action is used, overall and per track section (straights, left and right turns,
    by the centre line's curvature where the car was); for a continuous action space, the histograms of
    speed and steering instead. Plus speed and steering distributions per iteration."""
    sections = section_types(track)[cKDTree(track.centre[:-1]).query(np.column_stack([steps.x, steps.y]))[1]] \
        if len(steps) else np.zeros(0, dtype=object)
    moving = steps.status != STATUS_CODE["prepare"]  # the prepare row has no chosen action
    result = {"sections": {}, "by_iteration": _distributions(steps.take(moving))}
    if metadata.get("action_space_type", "discrete") == "discrete":
        space = metadata["action_space"]
        labels = [f"{index}: {float(a['steering_angle']):g}° {float(a['speed']):g} m/s" for index, a in enumerate(space)]
        result["labels"] = labels
        result["overall"] = _action_counts(steps.action[moving], len(space))
        for name in ("straight", "left", "right"):
            mask = moving & (sections == name)
            result["sections"][name] = _action_counts(steps.action[mask], len(space))
    else:
        result["overall"] = _continuous_counts(steps.take(moving))
        for name in ("straight", "left", "right"):
            result["sections"][name] = _continuous_counts(steps.take(moving & (sections == name)))
    return result


def _action_counts(actions: np.ndarray, count: int) -> list[int]:
    valid = actions[(actions >= 0) & (actions < count)]
    return np.bincount(valid, minlength=count).tolist()


def _continuous_counts(steps: Steps) -> dict:
    speed, speed_edges = np.histogram(steps.throttle, bins=SPEED_BINS)
    steering, steering_edges = np.histogram(steps.steer, bins=STEERING_BINS, range=(-STEERING_LIMIT, STEERING_LIMIT))
    return {"speed": {"edges": _rounded(speed_edges), "counts": speed.tolist()},
            "steering": {"edges": _rounded(steering_edges), "counts": steering.tolist()}}


def _distributions(steps: Steps) -> dict:
    """Commanded speed and steering histograms, one row per iteration (a heatmap over time)."""
    iterations = np.unique(steps.iteration)
    top = float(np.nanmax(steps.throttle)) if len(steps) else 1.0
    speed_edges = np.linspace(0, max(top, 0.1) * 1.0001, SPEED_BINS + 1)
    steering_edges = np.linspace(-STEERING_LIMIT, STEERING_LIMIT, STEERING_BINS + 1)
    speed_rows, steering_rows = [], []
    for iteration in iterations:
        mask = steps.iteration == iteration
        total = max(int(mask.sum()), 1)
        speed_rows.append(_rounded(np.histogram(steps.throttle[mask], speed_edges)[0] / total * 100, 2))
        steering_rows.append(_rounded(np.histogram(steps.steer[mask], steering_edges)[0] / total * 100, 2))
    return {"iteration": iterations.tolist(),
            "speed": {"centres": _rounded((speed_edges[:-1] + speed_edges[1:]) / 2), "percent": speed_rows},
            "steering": {"centres": _rounded((steering_edges[:-1] + steering_edges[1:]) / 2), "percent": steering_rows}}


# ----------------------------------------------------------------------------------- episode player


def episode_steps(steps: Steps, track: Track, iteration: int, episode: int) -> dict:
    """One episode step by step, with the params the reward function saw at each step (as far as the
    trace records them, the rest measured on the track)."""
    mask = (steps.iteration == iteration) & (steps.episode == episode)
    if not mask.any():
        raise AnalysisError(f"iteration {iteration} has no episode {episode}")
    rows = steps.take(mask)
    projections = [track.project(x, y) for x, y in zip(rows.x.tolist(), rows.y.tolist(), strict=True)]
    return {
        "iteration": iteration, "episode": episode,
        "steps": rows.steps.tolist(), "x": _rounded(rows.x), "y": _rounded(rows.y),
        "heading": _rounded(rows.yaw, 2), "speed": _rounded(rows.throttle, 2),
        "steering_angle": _rounded(rows.steer, 2), "progress": _rounded(rows.progress, 2),
        "reward": _rounded(rows.reward), "status": [STATUSES[code] for code in rows.status.tolist()],
        "all_wheels_on_track": rows.all_wheels_on_track.tolist(), "action": rows.action.tolist(),
        "closest_waypoint": rows.closest_waypoint.tolist(),
        "distance_from_center": [round(p.distance_from_center, 4) for p in projections],
        "is_left_of_center": [p.is_left_of_center for p in projections],
        "track_width": [round(p.track_width, 4) for p in projections],
        "measured_speed": _rounded(rows.speeds(), 2),
    }


# ------------------------------------------------------------------------------------------ helpers


def _round(value, decimals: int = 4):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else round(value, decimals)


def _rounded(values, decimals: int = 4) -> list:
    """A float array as a JSON list (NaN and inf as null: strict JSON has no NaN)."""
    return _nullable(np.asarray(values, np.float64), decimals)


def _nullable(values: np.ndarray, decimals: int = 4) -> list:
    rounded = np.round(values, decimals)
    if np.isfinite(rounded).all():
        return rounded.tolist()
    finite = np.isfinite(rounded)
    return np.where(finite, rounded, None).tolist() if rounded.ndim else _round(rounded)
