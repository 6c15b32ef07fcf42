"""A head-to-model heat (issue 10): two models' cars race on one track at the same time in one MuJoCo world
(simulator.multicar), each driven by its own policy's deterministic action from its own sensors, until one
is first across the line after the heat's laps or the sim-clock time limit runs out. Plain Python, paths
in, ``report(progress) -> bool`` out, like training.engine's ``evaluate``; the worker (training/worker.py)
turns the reports into broadcasts and the result into the HeatJob row.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.engine import Progress


class HeatError(RuntimeError):
    """The heat cannot run (a model folder, its sensors or action space); the message says why."""


@dataclass
class HeatCar:
    """One car of the heat: the model folder whose best checkpoint drives it."""

    model_dir: Path
    model_id: int = 0
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
    seed: int = 0


@dataclass
class CarResult:
    model_id: int
    model_name: str
    lap_times: list[float]
    total_time: float | None
    finished: bool
    progress: float
    """% of the heat's distance (100 per lap)"""
    off_track_count: int
    crash_count: int
    reset_count: int
    penalty_seconds: float


@dataclass
class HeatResult:
    winner: int | None
    decided_by: str
    """"finish" or "time_limit\""""
    sim_seconds: float
    cars: list[CarResult]
    video_path: Path | None = None
    simtrace_paths: list[Path] = field(default_factory=list)
    stopped: bool = False

    def as_dict(self) -> dict:
        """The HeatJob's ``result`` (H2M_INTERFACE.md)."""
        return {"winner": self.winner, "decided_by": self.decided_by, "sim_seconds": round(self.sim_seconds, 3),
                "cars": [asdict(car) for car in self.cars]}


def race(run: HeatRun, report: Callable[[Progress], bool]) -> HeatResult:
    """Run the heat to its end; ``report`` returning False stops it (``stopped``, no winner)."""
    raise HeatError("The head-to-model simulator is not built yet.")
