"""A head-to-model heat (issue 10): two models' cars race on one track at the same time in one MuJoCo world
(simulator.multicar), each driven by its own best checkpoint's deterministic action (as an evaluation
drives it) from its own sensors and action space, until the first across the line after the heat's laps,
or until the sim-clock time limit, when the car further along wins. Plain Python, paths in,
``report(progress) -> bool`` out, like training.engine's ``evaluate``; the worker (training/worker.py)
turns the reports into broadcasts and the result into the HeatJob row.

What it leaves in the heat's folder: the replay (artifacts.HEAT_VIDEO: both chase views side by side under
a caption with the names, laps and times, one frame per step: it plays in sim real time) and each car's
sim trace (artifacts.heat_simtrace_name: SPEC 5.2 rows, one "episode" per lap). What it reports while it
runs: "frame" (each car's chase view, which carries the track map with both cars as an inset: a separate
map frame overlapped the views on a projector) and "tick" (both cars' laps, times and the gap:
H2M_INTERFACE.md) at most STREAM_FPS times a second of wall clock, "log" lines, and a "status" heartbeat every second (each report is a chance to stop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from simulator import multicar
from simulator.multicar import MultiCarRace
from simulator.spec import MetadataError
from simulator.tracks import TrackError
from training import artifacts
from training.artifacts import format_lap_time
from training.engine import Progress
from training.rollout_worker import VideoWriter, encode_jpeg

STREAM_FPS = 15  # live frames and ticks per second of wall clock, at most (a broadcast's frame rate)
STATUS_INTERVAL = 1.0  # s between heartbeats
CAPTION_HEIGHT = 44  # px of the replay's caption bar above the two chase views
CAPTION_FONT_SIZE = 18


class HeatError(RuntimeError):
    """The heat cannot run (a model folder, its sensors or action space, the track); the message says why."""


@dataclass
class HeatCar:
    """One car of the heat: the model folder whose best checkpoint drives it."""

    model_dir: Path
    model_id: str = ""
    model_name: str = ""


@dataclass
class HeatRun:
    """One heat: the cars in grid order and the race's rules."""

    cars: list[HeatCar]
    env_kwargs: dict = field(default_factory=dict)
    """track, reverse, race_type"""
    laps: int = 1
    continuous: bool = True
    """off track / crashed: the car is reset onto the track with a penalty instead of being out"""
    off_track_penalty: float = 5.0
    collision_penalty: float = 5.0
    max_seconds: float = 180.0
    """time limit on the sim clock"""
    folder: Path | None = None
    """where the replay and the sim traces go (HeatJob.folder); None: nothing is written"""
    video: bool = True
    stream_frames: bool = True
    realtime: bool = True
    """run no faster than the sim clock (a live audience watches the race as it happens)"""
    seed: int = 0


@dataclass
class CarResult(multicar.CarResult):
    """One car's race (the simulator's figures) and what the pages name it by."""

    model_id: str
    model_name: str
    colour: str
    """the car's shell in the heat, "#rrggbb" (the live views and the replay show it so)"""


@dataclass
class HeatResult:
    winner: int | None
    decided_by: str
    """"finish", "time_limit" or "all_out" (simulator.multicar.RaceResult)"""
    sim_seconds: float
    cars: list[CarResult]
    video_path: Path | None = None
    simtrace_paths: list[Path] = field(default_factory=list)
    stopped: bool = False

    def as_dict(self) -> dict:
        """The HeatJob's ``result`` (H2M_INTERFACE.md)."""
        return {"winner": self.winner, "decided_by": self.decided_by, "sim_seconds": self.sim_seconds,
                "cars": [asdict(car) for car in self.cars]}


class _Driver:
    """A model's policy at the wheel: its best checkpoint, acting deterministically."""

    def __init__(self, car: HeatCar):
        try:
            self.agent, self.metadata = artifacts.load_policy(Path(car.model_dir), "best")
        except (artifacts.ArtifactError, MetadataError, OSError) as error:
            raise HeatError(f"{car.model_name or car.model_dir}: {error}") from None
        self.sensors = tuple(self.metadata["sensor"])
        self.action_space = {"action_space_type": self.metadata["action_space_type"],
                             "action_space": self.metadata["action_space"]}

    @torch.inference_mode()
    def act(self, observation: dict):
        batch = {name: torch.as_tensor(value[None]) for name, value in observation.items()}
        return self.agent.env_action(self.agent.deterministic(batch))[0]


def _hex(mjcf_rgba: str) -> str:
    red, green, blue = (round(float(part) * 255) for part in mjcf_rgba.split()[:3])
    return f"#{red:02x}{green:02x}{blue:02x}"


class _Heat:
    def __init__(self, run: HeatRun, report: Callable[[Progress], bool]):
        if len(run.cars) != 2:
            raise HeatError(f"a heat races two cars, not {len(run.cars)}")
        self.run, self._report = run, report
        self.stopped = False
        self.drivers = [_Driver(car) for car in run.cars]
        kwargs = dict(run.env_kwargs)
        try:
            self.race = MultiCarRace(
                kwargs.pop("track"), cars=2, reverse=bool(kwargs.pop("reverse", False)),
                race_type=kwargs.pop("race_type", None), sensors=[d.sensors for d in self.drivers],
                action_spaces=[d.action_space for d in self.drivers], laps=run.laps, continuous=run.continuous,
                off_track_penalty=run.off_track_penalty, collision_penalty=run.collision_penalty,
                max_seconds=run.max_seconds)
        except (TrackError, ValueError) as error:
            raise HeatError(f"The heat cannot be set up: {error}") from None
        self.colours = [_hex(colour) for colour in self.race.world.colours]
        self.names = [car.model_name or f"Car {i + 1}" for i, car in enumerate(run.cars)]
        self.font = ImageFont.load_default(size=CAPTION_FONT_SIZE)
        self.last_frame = self.last_status = 0.0

    def report(self, kind: str, **data) -> None:
        if self._report(Progress(kind, data)) is False:
            self.stopped = True

    def go(self) -> HeatResult:
        run, race = self.run, self.race
        folder = Path(run.folder) if run.folder is not None else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        video_path = folder / artifacts.HEAT_VIDEO if folder is not None and run.video else None
        torch.set_num_threads(1)
        self.report("log", lines=[f"Heat: {self.names[0]} v {self.names[1]} on {race.track.title}, "
                                  f"{run.laps} lap{'s' if run.laps != 1 else ''}, time limit {run.max_seconds:g} s."])
        observations, infos = race.reset(seed=run.seed)
        rows: list[list] = [[], []]
        self._keep_traces(rows, infos)
        video = VideoWriter(str(video_path)) if video_path is not None else None
        started = time.monotonic()
        done = [False, False]
        try:
            while not race.over and not self.stopped:
                actions = [None if out else driver.act(observation)
                           for driver, observation, out in zip(self.drivers, observations, done, strict=True)]
                observations, _, done, _, infos = race.step(actions)
                self._keep_traces(rows, infos)
                self._show(video, infos)
                if run.realtime:
                    time.sleep(max(0.0, started + race.sim_time - time.monotonic()))
        finally:
            if video is not None:
                video.close()
        if self.stopped:
            if video_path is not None:
                video_path.unlink(missing_ok=True)  # half a replay of a heat that never ended
            video_path = None
        traces = self._write_traces(folder, rows)
        result = self._result(video_path, traces)
        if not self.stopped:
            self.report("log", lines=[self._summary(result)])
        return result

    def _keep_traces(self, rows: list[list], infos: list[dict]) -> None:
        for car_rows, info in zip(rows, infos, strict=True):
            if "trace" in info:
                car_rows.append(artifacts.trace_row(info["lap"] - 1, info["trace"]))

    def _write_traces(self, folder: Path | None, rows: list[list]) -> list[Path]:
        if folder is None:
            return []
        paths = [folder / artifacts.heat_simtrace_name(car) for car in range(len(rows))]
        for path, car_rows in zip(paths, rows, strict=True):
            artifacts.write_simtrace(path, car_rows)
        return paths

    # -- what people see: the replay and the live stream ------------------------------------------------

    def _show(self, video: VideoWriter | None, infos: list[dict]) -> None:
        now = time.monotonic()
        live = self.run.stream_frames and now - self.last_frame >= 1.0 / STREAM_FPS
        if video is None and not live:
            if now - self.last_status >= STATUS_INTERVAL:
                self.last_status = now
                self.report("status", phase="heat", sim_time=round(self.race.sim_time, 3))
            return
        chases = [self.race.render_chase(car) for car in range(2)]
        if video is not None:
            video.add(self._compose(chases, infos))
        if live:
            self.last_frame = self.last_status = now
            for car, chase in enumerate(chases):
                self.report("frame", car=car, view="chase", jpeg=encode_jpeg(chase))
            self.report("tick", **self._tick(infos))

    def _tick(self, infos: list[dict]) -> dict:
        race = self.race
        cars = []
        for car, info in zip(race.world.cars, infos, strict=True):
            pose = car.pose()
            cars.append({"progress": round(float(info["progress"]), 2), "lap": info["lap"],
                         "laps_done": info["laps_done"], "lap_time": round(float(info["lap_time"]), 3),
                         "last_lap": None if info["last_lap"] is None else round(info["last_lap"], 3),
                         "finished": info["finished"], "x": round(pose.x, 3), "y": round(pose.y, 3),
                         "reset_count": info["reset_count"], "off_track_count": info["off_track_count"]})
        return {"sim_time": round(race.sim_time, 3), "cars": cars, "gap": round(race.gap(), 3),
                "winner": race.winner}

    def _compose(self, chases: list[np.ndarray], infos: list[dict]) -> np.ndarray:
        """One replay frame: a caption bar (each car's colour, name, lap and time; the trailing car's gap)
        over both chase views side by side."""
        height, width = chases[0].shape[:2]
        frame = np.zeros((CAPTION_HEIGHT + height, 2 * width, 3), np.uint8)
        frame[CAPTION_HEIGHT:, :width], frame[CAPTION_HEIGHT:, width:] = chases
        caption = Image.new("RGB", (2 * width, CAPTION_HEIGHT), (20, 20, 24))
        gap = self.race.gap()
        trailing, gap = (1, gap) if gap >= 0 else (0, -gap)
        draw = ImageDraw.Draw(caption)
        for car, info in enumerate(infos):
            left = car * width + 10
            draw.rectangle((left, 12, left + 18, 30), fill=self.colours[car])
            if info["finished"]:
                state = f"finished {format_lap_time(info['total_time'])}"
            else:
                state = f"lap {info['lap']}/{self.run.laps}  {format_lap_time(info['lap_time'])}"
            if self.race.winner == car:
                state += "  WINNER"
            elif trailing == car and gap >= 0.05:
                state += f"  +{gap:.2f} s"
            draw.text((left + 28, 11), f"{self.names[car]}  {state}", fill=(240, 240, 240), font=self.font)
        frame[:CAPTION_HEIGHT] = np.asarray(caption)
        return frame

    # -- the outcome --------------------------------------------------------------------------------------

    def _result(self, video_path: Path | None, traces: list[Path]) -> HeatResult:
        outcome = self.race.result()
        cars = [CarResult(model_id=car.model_id, model_name=car.model_name, colour=colour, **asdict(raced))
                for car, raced, colour in zip(self.run.cars, outcome.cars, self.colours, strict=True)]
        return HeatResult(winner=None if self.stopped else outcome.winner, decided_by=outcome.decided_by,
                          sim_seconds=outcome.sim_seconds, cars=cars, video_path=video_path,
                          simtrace_paths=traces, stopped=self.stopped)

    def _summary(self, result: HeatResult) -> str:
        if result.winner is None:
            return f"No winner after {result.sim_seconds:g} s of racing ({result.decided_by.replace('_', ' ')})."
        car = result.cars[result.winner]
        how = (f"in {format_lap_time(car.total_time)}" if result.decided_by == "finish"
               else f"further along ({car.progress:g}%) when the race ended")
        return f"{self.names[result.winner]} wins {how}."


def race(run: HeatRun, report: Callable[[Progress], bool]) -> HeatResult:
    """Run the heat to its end; ``report`` returning False stops it (``stopped``: no winner, no replay)."""
    heat = _Heat(run, report)
    try:
        return heat.go()
    finally:
        heat.race.close()
