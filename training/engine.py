"""The training and evaluation engine: plain Python, ids and paths in, ``report(progress) -> bool`` out.

An iteration runs as DeepRacer runs it: collect ``num_episodes_between_training`` whole episodes across
the env worker processes (the policy acts for all of them in one batch), then update. The policy that
collected the iteration is evaluated on ``eval_episodes`` episodes (deterministic) WHILE the update runs,
on a frozen copy of it, in a thread: the env workers would otherwise sit idle through the update, the
evaluation costs no wall clock when it is shorter than the update, and the live video keeps moving
(after its episodes, worker 0 drives "preview" laps until the update ends; they count nowhere).
The best checkpoint is the one with the highest mean evaluation progress, the fastest among evaluations that
complete every lap once its lap time is weighed by how much of its training laps the same policy drove
(``beats_best``); every iteration also saves the
updated weights as the last checkpoint. Every iteration leaves a consistent model folder (SPEC 5), so a killed
run resumes from its last checkpoint, and ``report`` returning False ends the run cleanly with a final
checkpoint. A Celery task wraps ``train``/``evaluate``; nothing here imports Django, Celery or Channels.
"""

import copy
import ctypes
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import torch

from simulator.episode import STEP_SECONDS
from simulator.spec import SAC, TIME_TRIAL
from training import artifacts
from training.artifacts import format_lap_time
from training.networks import build_agent
from training.ppo import Episode, PPOConfig, PPOLearner
from training.rollout_worker import WorkerError, WorkerPool, WorkerSpec
from training.sac import SACConfig, SACLearner

DEFAULT_ENV_FACTORY = "simulator.env:DeepRacerEnv"
FRAME_INTERVAL = 0.25  # s between console frames per view: a few per second, the channel layer is small
REAL_TIME_STEP_SECONDS = STEP_SECONDS  # preview laps and live runs drive in real time (the simulator's 15 Hz)
STATUS_INTERVAL = 1.0  # s between heartbeats while collecting or updating (each one is also a chance to stop)
# Env worker processes that die (killed, crashed MuJoCo, out of memory) are replaced and the iteration's
# collection is redone; this many replacements in one run, and the next death fails the run.
MAX_WORKER_RESTARTS = 3
TRAINING_LOG = artifacts.TRAINING_LOG
# glibc's mallopt parameters, and the sizes below which freed memory stays in the process for reuse.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest
TRIM_THRESHOLD = 128 * 1024 * 1024


class TrainingError(RuntimeError):
    """The run cannot go on (env or reward-function failure, incompatible resume or clone)."""


@dataclass
class Progress:
    """What the engine tells the console: kind is "metrics", "episode", "log", "frame" or "status"."""

    kind: str
    data: dict


@dataclass
class TrainingRun:
    """One training job (a new model, a clone, or a resumed run of the same model folder)."""

    model_dir: Path
    """the model folder (SPEC 5.4); resumed from its last checkpoint when it has one"""
    metadata: dict
    """model_metadata.json content: action space, sensors, network, training_algorithm"""
    hyperparameters: dict = field(default_factory=dict)
    """hyperparameters.json content (DeepRacer names); missing keys take the console defaults"""
    env_kwargs: dict = field(default_factory=dict)
    """env settings besides sensors and actions: track, reverse, race_type"""
    reward_code: str | None = None
    """the racer's reward function source, saved as reward_function.py"""
    reward_factory: object = None
    """picklable zero-argument callable giving the reward callable in each worker (a sandbox); None = env default"""
    max_minutes: float = 60.0
    """stop condition: training time in minutes, counted across resumes"""
    max_iterations: int | None = None
    """optional stop after this many iterations in total"""
    eval_episodes: int = 5
    """evaluation episodes after each update"""
    num_workers: int = 2
    """env worker processes"""
    parent_model_dir: Path | None = None
    """clone: start from this model's best checkpoint (same action count)"""
    env_factory: str = DEFAULT_ENV_FACTORY
    """"module:callable" that builds the env"""
    stream_frames: bool = True
    """send JPEG frames of worker 0 (chase view and car camera) through report"""
    seed: int = 0
    """seed of torch and of the envs"""
    device: str | None = None
    """torch device; None = CUDA when present, else CPU"""
    bfloat16: bool | None = None
    """run the CNN in bfloat16 autocast (acting and updating); None = where the CPU has bfloat16 hardware"""
    update_threads: int | None = None
    """torch threads for the update; None = half of ``cores`` while the evaluation's episodes run alongside
    it, all of them once they are over (quiet 2-core machine: 2,000 samples/s on 1 thread, 3,500 on 2; but
    on a busy one 2 threads measured 160-450 against ~650 for 1: a deployment that shares its cores sets 1)"""
    cores: int | None = None
    """the cores this run may use (the update's threads follow them); None = all this process may run on"""
    training_params: dict = field(default_factory=dict)
    """extra training_params.yaml keys (deepracer-for-cloud names)"""


@dataclass
class TrainingResult:
    iterations: int
    steps: int
    episodes: int
    best_checkpoint: str
    last_checkpoint: str
    best_eval_progress: float
    stop_reason: str
    """"stopped" (report said so), "max_time" or "max_iterations\""""
    elapsed_seconds: float


@dataclass
class EvaluationRun:
    """One evaluation job: a model folder's checkpoint on any track, direction and race type."""

    model_dir: Path
    env_kwargs: dict = field(default_factory=dict)
    """track, reverse, race_type of the evaluation (may differ from training)"""
    trials: int = 3
    """laps (episodes) to run"""
    continuous: bool = False
    """continuous mode: off track / crash reset the car with a time penalty instead of ending the trial"""
    off_track_penalty: float = 5.0
    collision_penalty: float = 5.0
    checkpoint: str = "best"
    """"best" or "last\""""
    video: bool = True
    """record an MP4 of the run"""
    reward_factory: object = None
    env_factory: str = DEFAULT_ENV_FACTORY
    stream_frames: bool = True
    live: bool = False
    """a live race run, watched by a room: it drives in real time (the sim's 15 Hz) and streams a frame of each
    view every step (15 frames a second; measured: a chase frame's render 8 ms, its JPEG 0.7 ms and 23 KB)"""
    seed: int = 0
    device: str | None = None


@dataclass
class TrialResult:
    trial: int
    time: str
    """MM:SS.mmm, simulated time plus penalties"""
    time_seconds: float
    completion: float
    """% of the lap completed"""
    status: str
    off_track_count: int
    off_track_penalty: float
    crash_count: int
    crash_penalty: float
    reset_count: int
    steps: int


@dataclass
class EvaluationResult:
    timestamp: str
    trials: list[TrialResult]
    metrics_path: Path
    simtrace_path: Path
    video_path: Path | None
    stopped: bool


@dataclass
class _Running:
    """An episode in progress in one worker."""

    obs: dict
    start_time: float
    preview: bool = False
    """a lap for the live video only (counts nowhere)"""
    observations: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    log_probs: list = field(default_factory=list)
    values: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    traces: list = field(default_factory=list)
    info: dict = field(default_factory=dict)


@dataclass
class Finished:
    """A finished episode: what the learner needs and what the artifacts and console need."""

    episode: Episode
    traces: list
    """sim-trace rows (already formatted, without the episode column)"""
    info: dict
    """the last step's info (status, progress, continuous-mode counts)"""
    start_time: float
    end_time: float

    @property
    def status(self) -> str:
        return self.info.get("episode_status", "in_progress")

    @property
    def progress(self) -> float:
        return float(self.info.get("progress", 0.0))

    @property
    def total_reward(self) -> float:
        return float(self.episode.rewards.sum())

    @property
    def sim_time(self) -> float:
        return float(self.info.get("trace", {}).get("tstamp", 0.0))


def frame_tick(info: dict, phase: str, episode: int) -> dict:
    """What a live page shows beside a frame of worker 0: where the car is on the sim clock (the
    broadcast's lap timer, sectors and track map)."""
    trace = info.get("trace", {})
    return {"phase": phase, "episode": episode, "sim_time": round(float(trace.get("tstamp", 0.0)), 3),
            "progress": round(float(info.get("progress", 0.0)), 2), "x": round(float(trace.get("X", 0.0)), 3),
            "y": round(float(trace.get("Y", 0.0)), 3), "reset_count": int(info.get("reset_count", 0)),
            "off_track_count": int(info.get("off_track_count", 0))}


def _device(requested: str | None) -> torch.device:
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _stack(observations: list[dict]) -> dict:
    return {name: np.stack([obs[name] for obs in observations]) for name in observations[0]}


class _Session:
    """Shared by training and evaluation: the report channel, stop requests and episode collection."""

    def __init__(self, report: Callable[[Progress], bool], deadline: float | None):
        self._report_fn = report
        self.deadline = deadline
        self.stop_reason: str | None = None
        self.last_frame = 0.0
        self.frame_interval = FRAME_INTERVAL
        self.real_time = False  # every step waits for the sim's clock (a live run): not just preview laps
        self.last_status = 0.0
        self.status_fields: dict = {}
        self.log_handle = None
        self.worker_restarts = 0
        # report() is the caller's (it may use a database connection of its thread): reports made by the
        # evaluation thread wait here until the engine's own thread delivers them.
        self._owner = threading.get_ident()
        self._pending: queue.SimpleQueue = queue.SimpleQueue()

    def report(self, kind: str, **data) -> None:
        if threading.get_ident() != self._owner:
            self._pending.put(Progress(kind, data))
            return
        self.deliver_pending()
        self._deliver(Progress(kind, data))

    def deliver_pending(self) -> None:
        """Deliver the reports the evaluation thread made (on the engine's thread only)."""
        if threading.get_ident() != self._owner:
            return
        while True:
            try:
                progress = self._pending.get_nowait()
            except queue.Empty:
                return
            self._deliver(progress)

    def _deliver(self, progress: Progress) -> None:
        if self._report_fn(progress) is False and self.stop_reason is None:
            self.stop_reason = "stopped"

    @property
    def stopping(self) -> bool:
        if self.stop_reason is None and self.deadline is not None and time.monotonic() > self.deadline:
            self.stop_reason = "max_time"
        return self.stop_reason is not None

    def status(self, **data) -> None:
        """Report what the run is doing now; the heartbeats while collecting repeat it."""
        self.status_fields = data
        self.report("status", **data)

    def heartbeat(self, **data) -> bool:
        """A throttled status report; returns whether to keep going (the learners ask between minibatches)."""
        self.deliver_pending()
        data = data or self.status_fields
        now = time.monotonic()
        if now - self.last_status >= STATUS_INTERVAL:
            self.last_status = now
            self.report("status", **data)
        return not self.stopping

    def log(self, *lines: str, to_console: bool = True) -> None:
        if self.log_handle is not None:
            self.log_handle.write("".join(line + "\n" for line in lines))
        if to_console and lines:
            self.report("log", lines=list(lines))

    def collect_surviving(self, pool: WorkerPool, learner, phase: str, count: int, on_finish=None,
                          before=None, more: Callable[[], bool] | None = None) -> list[Finished]:
        """``collect``, and when an env worker process dies, new processes and the whole collection again
        (episodes reported again replace the lost ones), up to MAX_WORKER_RESTARTS in the run.
        ``before(pool)`` runs before each try (the evaluation starts its video there)."""
        while True:
            try:
                if before is not None:
                    before(pool)
                return self.collect(pool, learner, phase, count, on_finish=on_finish, more=more)
            except WorkerError as error:
                if not error.died:
                    raise
                if self.worker_restarts >= MAX_WORKER_RESTARTS:
                    raise TrainingError(
                        f"An env worker process died {self.worker_restarts + 1} times in this run; the last "
                        f"time env worker {error.worker}: {error.message}.") from error
                self.worker_restarts += 1
                self.log(f"WARNING: env worker {error.worker}: {error.message}. Starting new env workers and "
                         f"collecting the {phase} episodes again (restart {self.worker_restarts} of "
                         f"{MAX_WORKER_RESTARTS}).")
                pool.restart()

    def collect(self, pool: WorkerPool, learner, phase: str, count: int, on_finish=None,
                more: Callable[[], bool] | None = None) -> list[Finished]:
        """Run ``count`` whole episodes across the workers; the policy acts for all of them in one batch.

        Workers with no episode left to start sit idle, so exactly ``count`` episodes are collected. With
        ``more``, worker 0 then drives "preview" laps (its own env and random stream: they count nowhere)
        while ``more()`` is true, so the live video runs for as long as an update does; the lap in flight
        when it turns false is dropped.
        """
        deterministic = phase == "evaluation"
        agent, device = learner.agent, learner.device
        more = more or (lambda: False)
        clock = 0.0  # when the last step driven in real time went
        finished: list[Finished] = []
        running: dict[int, _Running] = {}
        started = 0
        for worker in range(min(len(pool), count)):
            pool.send(worker, "reset", phase)
        for worker in range(min(len(pool), count)):
            obs, info = pool.receive(worker)
            running[worker] = self._start(obs, info)
            started += 1
        while running and not self.stopping:
            self.heartbeat()  # a stop request or a shutdown is seen within a second, even in long episodes
            if self.stopping:
                break
            real_time = self.real_time
            if len(finished) >= count:
                if not more():
                    break  # a preview lap in flight is dropped; its env resets at its next use
                # Only a preview lap is left: drive it in real time (a video needs no more), leaving
                # the cores to the update.
                real_time = True
            if real_time:
                clock = max(clock + REAL_TIME_STEP_SECONDS, time.monotonic())
                time.sleep(max(0.0, clock - time.monotonic()))
            workers = sorted(running)
            obs = _stack([running[w].obs for w in workers])
            action, log_prob, value = learner.act({k: torch.as_tensor(v, device=device) for k, v in obs.items()},
                                                  deterministic=deterministic)
            env_actions = agent.env_action(action)
            actions = action.cpu().numpy()
            log_probs = np.zeros(len(workers)) if log_prob is None else log_prob.cpu().numpy()
            values = np.zeros(len(workers)) if value is None else value.cpu().numpy()
            now = time.monotonic()
            want_frames = self.stream_frames and now - self.last_frame >= self.frame_interval
            for row, worker in enumerate(workers):
                pool.send(worker, "step", env_actions[row], want_frames and worker == 0)
            for row, worker in enumerate(workers):
                next_obs, reward, terminated, truncated, info, frames, prints = pool.receive(worker)
                episode = running[worker]
                episode.observations.append({k: v[row] for k, v in obs.items()})
                episode.actions.append(actions[row])
                episode.log_probs.append(log_probs[row])
                episode.values.append(values[row])
                episode.rewards.append(reward)
                episode.info = info
                if "trace" in info:
                    episode.traces.append({**info["trace"], "wall_clock": time.time()})
                episode.obs = next_obs
                if frames:
                    self.last_frame = now
                    for view, jpeg in frames.items():
                        self.report("frame", view=view, phase=phase, jpeg=jpeg)
                    self.report("tick", **frame_tick(info, phase, len(finished) + 1))
                if prints:
                    self.log(*prints)
                if terminated or truncated:
                    done = self._finish(running.pop(worker), terminated)
                    if not episode.preview:
                        finished.append(done)
                        if on_finish is not None:
                            on_finish(done, len(finished))
                    if self.stopping:
                        continue
                    if started < count:
                        preview = False
                        started += 1
                    elif worker == 0 and more():
                        preview = True
                    else:
                        continue
                    pool.send(worker, "reset", "preview" if preview else phase)
                    obs_reset, info_reset = pool.receive(worker)
                    running[worker] = self._start(obs_reset, info_reset, preview)
        return finished

    @staticmethod
    def _start(obs: dict, info: dict, preview: bool = False) -> _Running:
        episode = _Running(obs=obs, start_time=time.time(), preview=preview)
        if "trace" in info:  # the env's "prepare" row, when it writes one
            episode.traces.append({**info["trace"], "wall_clock": time.time()})
        return episode

    @staticmethod
    def _finish(running: _Running, terminated: bool) -> Finished:
        episode = Episode(
            obs=_stack(running.observations),
            final_obs={k: v[None] for k, v in running.obs.items()},
            actions=np.stack(running.actions),
            rewards=np.asarray(running.rewards, np.float32),
            log_probs=np.asarray(running.log_probs, np.float32),
            values=np.asarray(running.values, np.float32),
            terminated=terminated,
        )
        return Finished(episode, running.traces, running.info, running.start_time, time.time())


class _Trainer(_Session):
    def __init__(self, run: TrainingRun, report):
        self.run = run
        self.model_dir = Path(run.model_dir)
        try:  # the one reader of model_metadata.json (SAC only with a continuous action space, ...)
            self.metadata = artifacts.normalize_metadata(run.metadata)
        except artifacts.ArtifactError as error:
            raise TrainingError(f"model_metadata.json: {error}") from None
        algorithm = self.metadata["training_algorithm"]
        config_class = SACConfig if algorithm == SAC else PPOConfig
        try:
            self.config = config_class.from_dict(run.hyperparameters)
        except ValueError as error:
            raise TrainingError(f"hyperparameters: {error}") from None
        if run.eval_episodes < 1 or run.num_workers < 1:
            raise TrainingError("eval_episodes and num_workers must be at least 1")
        self.device = _device(run.device)
        self.cores = run.cores or available_cores()  # asked once: the update's threads follow them per minibatch
        self.stream_frames = run.stream_frames
        self.counters = {"iteration": 0, "steps": 0, "episodes": 0, "elapsed": 0.0}
        self.best = None  # deepracer_checkpoints.json entry of the best checkpoint
        self.last = None
        self.saved_iteration = -1  # the iteration whose weights the newest checkpoint holds
        super().__init__(report, deadline=None)

    # ----------------------------------------------------------------------------------- the loop

    def train(self) -> TrainingResult:
        run, config = self.run, self.config
        torch.manual_seed(run.seed)
        agent = build_agent(self.metadata, artifacts.observation_space(self.metadata["sensor"]),
                            artifacts.action_space(self.metadata))
        learner_class = SACLearner if self.metadata["training_algorithm"] == SAC else PPOLearner
        self.learner = learner = learner_class(agent, config, self.device, bfloat16=run.bfloat16)
        self._write_model_files()
        (self.model_dir / TRAINING_LOG).parent.mkdir(parents=True, exist_ok=True)
        with open(self.model_dir / TRAINING_LOG, "a", buffering=1) as self.log_handle:
            self.metrics = artifacts.MetricsFile(self.model_dir / "metrics" / "TrainingMetrics.json")
            self._restore()
            started = time.monotonic()
            self.deadline = started + run.max_minutes * 60.0 - self.counters["elapsed"]
            self.elapsed_before = self.counters["elapsed"]
            self.started = started
            try:
                with WorkerPool(self._worker_specs()) as pool:
                    self._loop(pool, learner)
            except WorkerError as error:
                self.log(f"ERROR: {error}")
                raise TrainingError(f"{error.kind}: {error.message}") from error
            if self.saved_iteration != self.counters["iteration"] or self.last is None:
                self._checkpoint()  # the final checkpoint of a stop mid-iteration
            self._export_best()
            self.log(f"Training ended: {self.stop_reason}")
        return TrainingResult(
            iterations=self.counters["iteration"], steps=self.counters["steps"],
            episodes=self.counters["episodes"], best_checkpoint=self.best["name"], last_checkpoint=self.last["name"],
            best_eval_progress=self.best["avg_eval_metric"], stop_reason=self.stop_reason,
            elapsed_seconds=self._elapsed())

    def _loop(self, pool: WorkerPool, learner) -> None:
        run, config = self.run, self.config
        while not self.stopping:
            if run.max_iterations is not None and self.counters["iteration"] >= run.max_iterations:
                self.stop_reason = "max_iterations"
                break
            iteration = self.counters["iteration"]
            started = time.monotonic()
            cpu = _CpuClock(pool)
            before = dict(self.counters)
            torch.set_num_threads(1)  # collecting: the env workers need the cores
            self.status(phase="collecting", iteration=iteration + 1)
            episodes = self.collect_surviving(pool, learner, "training", config.num_episodes_between_training,
                                              on_finish=self._on_training_episode)
            if self.stopping:
                break
            timing = {"timing/collect_seconds": time.monotonic() - started, "cpu/collect_seconds": cpu.lap()}
            clock = time.monotonic()
            self._write_simtrace(iteration, episodes)
            samples = sum(len(f.episode) for f in episodes)
            # The policy that collected this iteration, frozen, is evaluated while the learner updates.
            collected_by = {"state": copy.deepcopy(learner.state_dict()),
                            "counters": {**self.counters, "elapsed": self._elapsed()}}
            self.evaluation = evaluation = _BackgroundEvaluation(self, pool, _frozen(learner), run.eval_episodes)
            timing["timing/other_seconds"] = time.monotonic() - clock
            cpu_other = cpu.lap()
            self._use_update_threads(evaluating=True)
            clock = time.monotonic()
            self.status(phase="updating", iteration=iteration + 1, evaluating=True)
            try:
                stats = learner.learn([f.episode for f in episodes], keep_going=self._keep_updating)
            finally:
                timing["timing/update_seconds"] = time.monotonic() - clock
                clock = time.monotonic()
                evaluated = evaluation.finish()
                self.deliver_pending()
            timing["timing/evaluate_wait_seconds"] = time.monotonic() - clock
            timing["timing/evaluate_seconds"] = evaluation.seconds
            # The update and the evaluation share these seconds: the evaluation thread's own CPU and the
            # env workers' (they only evaluate now) are the evaluation's, the rest of the learner's the update's.
            update_and_evaluation = cpu.lap(split_learner=evaluation.thread_cpu_seconds)
            timing["cpu/update_seconds"], timing["cpu/evaluate_seconds"] = update_and_evaluation
            self.counters["iteration"] += 1
            self.counters["steps"] += samples
            self.counters["episodes"] += len(episodes)
            self._append_training_metrics(episodes)
            if self.stopping or len(evaluated) < run.eval_episodes:
                self._discard_iteration(before)
                break
            clock = time.monotonic()
            eval_progress = float(np.mean([f.progress for f in evaluated]))
            self._append_evaluation_metrics(evaluated)
            training_progress = float(np.mean([f.progress for f in episodes]))
            is_best = self._checkpoint((collected_by["state"], collected_by["counters"], eval_progress,
                                        evaluation_lap_time(evaluated), training_progress))
            timing["timing/other_seconds"] += time.monotonic() - clock
            timing["cpu/other_seconds"] = cpu_other + cpu.lap()
            timing["timing/iteration_seconds"] = time.monotonic() - started
            timing["charts/env_steps_per_second"] = samples / max(timing["timing/collect_seconds"], 1e-9)
            timing["charts/update_samples_per_second"] = (
                samples * stats.get("losses/epochs", config.num_epochs) / max(timing["timing/update_seconds"], 1e-9))
            timing["charts/end_to_end_steps_per_second"] = samples / max(timing["timing/iteration_seconds"], 1e-9)
            self.report("metrics", iteration=iteration + 1,
                        average_reward=float(np.mean([f.total_reward for f in episodes])),
                        average_training_completion=training_progress,
                        average_evaluation_completion=eval_progress,
                        evaluation_laps_complete=sum(f.status == "lap_complete" for f in evaluated),
                        evaluation_episodes=len(evaluated), evaluation_steps=sum(len(f.episode) for f in evaluated),
                        best=is_best, best_checkpoint=self.best["name"], steps=self.counters["steps"],
                        episodes=self.counters["episodes"], elapsed_seconds=self._elapsed(), **stats, **timing)

    def _discard_iteration(self, before: dict) -> None:
        """A stop during the update or the evaluation: the iteration counts only once it is evaluated and
        reported, so the run ends at the last checkpoint (no final one with an unreported iteration, which
        would leave a hole in the graph of a resumed or continued run) and its training records go."""
        self.counters = before
        self.metrics.truncate(lambda record: record["episode"] <= before["episodes"])

    # ------------------------------------------------------------------------- reporting episodes

    def _keep_updating(self) -> bool:
        evaluating = self.evaluation.evaluating
        if not evaluating:
            self._use_update_threads(evaluating=False)
        return self.heartbeat(phase="updating", iteration=self.counters["iteration"] + 1, evaluating=evaluating)

    def _use_update_threads(self, evaluating: bool) -> None:
        threads = update_threads(self.run.update_threads, evaluating, self.cores)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def _on_training_episode(self, done: Finished, number: int) -> None:
        self.report("episode", phase="training", iteration=self.counters["iteration"] + 1,
                    episode=self.counters["episodes"] + number, reward=done.total_reward,
                    progress=done.progress, status=done.status, steps=len(done.episode))

    def _on_evaluation_episode(self, done: Finished, number: int) -> None:
        # It runs alongside this iteration's update, which has not counted the iteration yet.
        self.report("episode", phase="evaluation", iteration=self.counters["iteration"] + 1, trial=number,
                    reward=done.total_reward, progress=done.progress, status=done.status,
                    steps=len(done.episode))

    # ------------------------------------------------------------------------------ the model folder

    def _write_model_files(self) -> None:
        run = self.run
        existing = self.model_dir / "model" / "model_metadata.json"
        if existing.exists():
            old = artifacts.read_model_metadata(existing)
            changed = [key for key in ("sensor", "neural_network", "training_algorithm") if old[key] != self.metadata[key]]
            if artifacts.action_space(old) != artifacts.action_space(self.metadata):
                changed.append("action_space")
            if changed:
                raise TrainingError(f"this model folder holds a model with another {', '.join(changed)}")
        artifacts.write_model_metadata(self.model_dir, self.metadata)
        artifacts.write_hyperparameters(self.model_dir, self.config.to_dict())
        if run.reward_code is not None:
            artifacts.write_reward_function(self.model_dir, run.reward_code)
        env = run.env_kwargs
        race = env.get("race_type") or {}
        params = {
            "WORLD_NAME": str(getattr(env.get("track"), "slug", env.get("track", "quick_loop"))),
            "RACE_TYPE": race.get("race_type", TIME_TRIAL),
            "REVERSE_DIR": bool(env.get("reverse", False)),
            "CHANGE_START_POSITION": True,
            "NUMBER_OF_OBSTACLES": int(race.get("object_count", 0)),
            "RANDOMIZE_OBSTACLE_LOCATIONS": bool(race.get("randomize_objects", False)),
            "NUMBER_OF_BOT_CARS": int(race.get("bot_count", 0)),
            "BOT_CAR_SPEED": float(race.get("bot_speed", 0.0)),
            "IS_LANE_CHANGE": bool(race.get("bot_lane_changes", False)),
            "ALTERNATE_DRIVING_DIRECTION": False,
            "NUMBER_OF_EPISODES": 0,
            "MODEL_METADATA_FILE_S3_KEY": "model/model_metadata.json",
            "REWARD_FILE_S3_KEY": "reward_function.py",
            "METRICS_S3_OBJECT_KEY": "metrics/TrainingMetrics.json",
            "SIMTRACE_S3_PREFIX": "training-simtrace",
            "TRAINING_ALGORITHM": self.metadata["training_algorithm"],
            **run.training_params,
        }
        artifacts.write_training_params(self.model_dir, params)

    def _restore(self) -> None:
        """Resume from this folder's last checkpoint, or start a clone from its parent's best."""
        index = artifacts.read_checkpoints_index(self.model_dir)
        if index is not None:
            name = index["last_checkpoint"]["name"]
            try:
                state = artifacts.load_checkpoint(self.model_dir, name, map_location=self.device)
                self.learner.load_state_dict(state["learner"])
            except (artifacts.ArtifactError, KeyError, RuntimeError) as error:
                raise TrainingError(f"cannot resume from checkpoint {name}: {error}") from None
            self.counters = dict(state["counters"])
            self.best, self.last = index["best_checkpoint"], index["last_checkpoint"]
            self.saved_iteration = self.counters["iteration"]
            episodes = self.counters["episodes"]
            # Records written after that checkpoint belong to an iteration that is being redone.
            self.metrics.truncate(lambda record: record["episode"] <= episodes)
            self.log(f"Resuming from checkpoint {name} (iteration {self.counters['iteration']}, "
                     f"{self.counters['steps']} steps)")
            return
        self.metrics.truncate(lambda record: False)
        parent = self.run.parent_model_dir
        if parent is not None:
            self._clone_from(Path(parent))
        self.log("Using the following hyper-parameters", orjson.dumps(self.config.to_dict(),
                 option=orjson.OPT_INDENT_2).decode(), to_console=False)

    def _clone_from(self, parent: Path) -> None:
        try:
            parent_metadata = artifacts.read_model_metadata(parent)
            index = artifacts.read_checkpoints_index(parent)
            if index is None:
                raise TrainingError("the parent model has no checkpoint to clone")
            state = artifacts.load_checkpoint(parent, index["best_checkpoint"]["name"], map_location=self.device)
        except artifacts.ArtifactError as error:
            raise TrainingError(f"cannot clone: {error}") from None
        for key in ("sensor", "neural_network"):
            if parent_metadata[key] != self.metadata[key]:
                raise TrainingError(f"a clone keeps its parent's {key} ({parent_metadata[key]})")
        ours, theirs = artifacts.action_space(self.metadata), artifacts.action_space(parent_metadata)
        if ours.shape != theirs.shape or getattr(ours, "n", None) != getattr(theirs, "n", None):
            raise TrainingError("a clone keeps its parent's action count")
        name = index["best_checkpoint"]["name"]
        if parent_metadata["training_algorithm"] == self.metadata["training_algorithm"] and type(ours) is type(theirs):
            self.learner.load_state_dict(state["learner"], weights_only=True)
            self.log(f"Cloned from {parent.name}, checkpoint {name}")
        else:
            # Another algorithm or action space type: only what the camera learned carries over.
            prefix = "torso."
            torso = {k[len(prefix):]: v for k, v in state["learner"]["agent"].items() if k.startswith(prefix)}
            self.learner.load_torso(torso)
            self.log(f"Cloned the CNN of {parent.name}, checkpoint {name} (new {self.metadata['training_algorithm']} heads)")

    def _write_simtrace(self, iteration: int, episodes: list[Finished]) -> None:
        rows = [artifacts.trace_row(number, trace) for number, done in enumerate(episodes)
                for trace in done.traces]
        artifacts.write_simtrace(self.model_dir / "training-simtrace" / f"{iteration}-iteration.csv", rows)
        self.log(*(artifacts.simtrace_log_line(row) for row in rows), to_console=False)

    def _append_training_metrics(self, episodes: list[Finished]) -> None:
        first = self.counters["episodes"] - len(episodes) + 1
        self.metrics.append([
            artifacts.metrics_record(episode=first + n, trial=n + 1, phase="training", reward=f.total_reward,
                                     progress=f.progress, status=f.status, start_time=f.start_time,
                                     end_time=f.end_time)
            for n, f in enumerate(episodes)])

    def _append_evaluation_metrics(self, evaluation: list[Finished]) -> None:
        # DeepRacer numbers an evaluation record with the training episode count it followed.
        self.metrics.append([
            artifacts.metrics_record(episode=self.counters["episodes"], trial=n + 1, phase="evaluation",
                                     reward=f.total_reward, progress=f.progress, status=f.status,
                                     start_time=f.start_time, end_time=f.end_time)
            for n, f in enumerate(evaluation)])

    def _checkpoint(self, evaluated: tuple | None = None) -> bool:
        """Save the learner as the last checkpoint. ``evaluated`` = (learner state, counters, evaluation
        progress, evaluation lap time, mean progress of the training episodes it collected) of the policy
        this iteration evaluated (the one before the update): it is saved too when it is the best so far.
        Returns whether it became the best checkpoint."""
        self.counters["elapsed"] = self._elapsed()
        is_best = False
        if evaluated is not None:
            state, counters, progress, lap_time, training_progress = evaluated
            if beats_best(progress, lap_time, self.best, training_progress):
                self.best, is_best = self._save(state, counters, progress, lap_time, training_progress), True
        self.last = self._save(self.learner.state_dict(), self.counters, None)
        if self.best is None or self.best["avg_eval_metric"] < 0:
            self.best = self.last  # nothing evaluated yet: the newest weights stand in
        artifacts.write_checkpoints_index(self.model_dir, self.best, self.last)
        artifacts.prune_checkpoints(self.model_dir, keep_names={self.best["name"], self.last["name"]})
        self.saved_iteration = self.counters["iteration"]
        return is_best

    def _save(self, state: dict, counters: dict, eval_progress: float | None, lap_time: float | None = None,
              training_progress: float | None = None) -> dict:
        name = artifacts.checkpoint_name(counters["iteration"], counters["steps"])
        artifacts.save_checkpoint(self.model_dir, name, {
            "learner": state, "counters": dict(counters), "metadata": self.metadata,
            "config": asdict(self.config), "evaluated": eval_progress is not None})
        return artifacts.checkpoint_entry(name, -1.0 if eval_progress is None else eval_progress, lap_time,
                                          training_progress)

    def _export_best(self) -> None:
        try:
            artifacts.write_car_bundle(self.model_dir)
        except Exception as error:  # an export failure must not lose a finished training run
            self.log(f"WARNING: ONNX export of the best checkpoint failed: {error}")

    def _elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def _worker_specs(self) -> list[WorkerSpec]:
        run = self.run
        env_kwargs = {**run.env_kwargs, "sensors": tuple(self.metadata["sensor"]),
                      "action_space": {"action_space_type": self.metadata["action_space_type"],
                                       "action_space": self.metadata["action_space"]}}
        return [WorkerSpec(env_factory=run.env_factory, env_kwargs=env_kwargs, reward_factory=run.reward_factory,
                           start_offset=index / run.num_workers, render=run.stream_frames and index == 0,
                           seed=run.seed * 1000 + index)
                for index in range(run.num_workers)]


class _CpuClock:
    """CPU seconds (learner process plus env worker processes) since the last ``lap``: what a phase costs
    whatever else shares the cores, where its wall clock depends on them."""

    def __init__(self, pool: WorkerPool):
        self.pool = pool
        self.learner, self.workers = time.process_time(), pool.cpu_seconds()

    def lap(self, split_learner: float | None = None):
        """The CPU seconds since the last lap; with ``split_learner`` (CPU seconds of one of the learner's
        threads in that time), the pair (the rest of the learner's, that thread's plus the workers')."""
        learner, workers = time.process_time(), self.pool.cpu_seconds()
        spent_learner, spent_workers = learner - self.learner, max(0.0, workers - self.workers)
        self.learner, self.workers = learner, workers
        if split_learner is None:
            return spent_learner + spent_workers
        return max(0.0, spent_learner - split_learner), split_learner + spent_workers


def evaluation_lap_time(evaluated: list[Finished]) -> float | None:
    """The mean lap time (sim seconds) of an evaluation whose every episode completed its lap, else None."""
    if not evaluated or any(done.status != "lap_complete" for done in evaluated):
        return None
    return float(np.mean([done.sim_time for done in evaluated]))


def beats_best(progress: float, lap_time: float | None, best: dict | None,
               training_progress: float | None = None) -> bool:
    """Whether an evaluation (mean progress, lap time when every lap completed, mean progress of the
    training episodes the same policy collected) makes a better checkpoint than ``best`` (a
    deepracer_checkpoints.json entry). The higher progress wins, as in DeepRacer; between evaluations that
    all complete their laps the faster one, since a racer races lap times, once steadiness is counted
    (``steady_lap_time``); otherwise the newer one, which has trained longer."""
    if best is None or progress > best["avg_eval_metric"]:
        return True
    if progress < best["avg_eval_metric"]:
        return False
    best_time = best.get("avg_eval_lap_time")
    if lap_time is None or best_time is None:
        return True
    best_training = best.get("avg_training_progress")
    if training_progress is None or best_training is None:  # a best saved before training progress was kept
        return lap_time <= best_time
    return steady_lap_time(lap_time, training_progress) <= steady_lap_time(best_time, best_training)


def steady_lap_time(lap_time: float, training_progress: float) -> float:
    """An all-lap evaluation's lap time divided by the share of a lap its policy drove in training.

    Five deterministic laps can all complete by luck: on reinvent_base a policy whose training episodes
    (the same policy, exploring) ended after 12% of the lap on average lapped 5 of 5, fastest of the run,
    then 2 of 3 when evaluated again, and as the fastest it stayed the best while from iteration 8 on every
    evaluation lapped 5 of 5 and training progress rose to 95-98% (bench/time_to_lap.py). Weighing the lap time by the
    training progress prefers the policy that still laps with noise in its steering; between equally
    steady policies the faster one wins."""
    return lap_time * 100.0 / max(training_progress, 1.0)


def available_cores() -> int:
    """The cores this process may run on (a container or a taskset may allow fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def update_threads(requested: int | None, evaluating: bool, cores: int) -> int:
    """The update's torch threads: as requested, else the cores the evaluation leaves while it runs (it acts
    in its own thread and the env workers step its episodes), then every core once it is over."""
    if requested:
        return requested
    return max(1, cores // 2) if evaluating else cores


def _frozen(learner):
    """A copy of the learner that acts with the current weights while the learner itself updates."""
    frozen = copy.copy(learner)
    frozen.agent = copy.deepcopy(learner.agent).eval()
    return frozen


class _BackgroundEvaluation:
    """The deterministic evaluation of a frozen policy, in a thread, while the learner updates.

    It runs ``count`` episodes across the workers, then, when the run streams frames, worker 0 drives
    preview laps (the live video, counted nowhere) until ``finish()`` says the update is over. ``seconds``: how long the evaluation's
    own episodes took."""

    def __init__(self, session: "_Trainer", pool: WorkerPool, acting, count: int):
        self.session, self.pool, self.acting, self.count = session, pool, acting, count
        self.update_running = True
        self.episodes: list[Finished] = []
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.finished = 0  # evaluation episodes finished so far
        self.thread_cpu_seconds = 0.0
        """the evaluation thread's own CPU seconds (its policy's forward passes and the bookkeeping)"""
        self.thread = threading.Thread(target=self._run, name="evaluation", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        started, cpu_started = time.monotonic(), time.thread_time()

        def on_finish(done: Finished, number: int) -> None:
            self.seconds, self.finished = time.monotonic() - started, number
            self.session._on_evaluation_episode(done, number)

        # Preview laps are the live video: without frames to stream nobody sees them, and they would only
        # take CPU from the update.
        more = (lambda: self.update_running) if self.session.stream_frames else None
        try:
            self.episodes = self.session.collect_surviving(self.pool, self.acting, "evaluation", self.count,
                                                           on_finish=on_finish, more=more)
        except BaseException as error:  # raised again in the engine's thread by finish()
            self.error = error
        finally:
            self.thread_cpu_seconds = time.thread_time() - cpu_started

    @property
    def evaluating(self) -> bool:
        """Whether its own episodes still run. The preview laps after them step at the sim's pace, a
        fraction of a core: the update may have the cores back (in the console, which streams frames,
        the update stayed on half of them for as long as it ran: 574-601 samples/s on 2 cores)."""
        return self.thread.is_alive() and self.finished < self.count

    def finish(self) -> list[Finished]:
        """Wait for the evaluation's own episodes (the update is over) and return them all."""
        self.update_running = False
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.episodes


def reuse_freed_memory() -> None:
    """Keep the memory of freed tensors in this process for the next ones (glibc; elsewhere nothing).

    Each minibatch of the update allocates and frees megabytes of activations and gradients. glibc gives
    blocks from 128 KB up back to the kernel when they are freed (mmap, or trimming the heap), so every
    minibatch faulted many of them in again. Kept for reuse: in two iterations of the default training
    the learner's page faults went 360,000-390,000 -> 53,000, its system time 1.0-1.1 -> 0.4 s and the
    update's CPU 7.9-8.3 -> 7.6-7.7 ms per env step, for at most TRIM_THRESHOLD of freed memory held."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)


def train(run: TrainingRun, report: Callable[[Progress], bool]) -> TrainingResult:
    """Train (or resume, or clone) until the time limit, max_iterations, or report returning False."""
    reuse_freed_memory()
    return _Trainer(run, report).train()


# ------------------------------------------------------------------------------------------ evaluation


class _Evaluator(_Session):
    def __init__(self, run: EvaluationRun, report):
        super().__init__(report, deadline=None)
        if run.trials < 1:
            raise TrainingError("an evaluation needs at least one trial")
        self.run = run
        self.stream_frames = run.stream_frames
        if run.live:  # the room watches the run as it happens: one frame per sim step, at the sim's pace
            self.real_time, self.frame_interval = True, 0.0
        self.model_dir = Path(run.model_dir)

    def evaluate(self) -> EvaluationResult:
        run = self.run
        try:
            agent, metadata = artifacts.load_policy(self.model_dir, run.checkpoint)
        except artifacts.ArtifactError as error:
            raise TrainingError(str(error)) from None
        device = _device(run.device)
        algorithm = metadata["training_algorithm"]
        learner = (SACLearner(agent, SACConfig(), device) if algorithm == SAC
                   else PPOLearner(agent, PPOConfig(), device))
        stamp, folder = _new_evaluation_folder(self.model_dir)
        spec = WorkerSpec(
            env_factory=run.env_factory,
            env_kwargs={**run.env_kwargs, "sensors": tuple(metadata["sensor"]),
                        "action_space": {"action_space_type": metadata["action_space_type"],
                                         "action_space": metadata["action_space"]}},
            reward_factory=run.reward_factory, render=run.video or run.stream_frames, seed=run.seed,
            eval_kwargs={"continuous": run.continuous, "off_track_penalty": run.off_track_penalty,
                         "collision_penalty": run.collision_penalty})
        video_path = folder / "video.mp4" if run.video else None
        log_path = self.model_dir / "logs" / "evaluation" / f"{stamp}-simulation.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(1)
        with open(log_path, "a", buffering=1) as self.log_handle:
            try:
                with WorkerPool([spec]) as pool:
                    self.status_fields = {"phase": "evaluation"}
                    # After a restart the video starts again in the new worker (the old file is replaced).
                    start_video = (lambda pool: pool.call(0, "start_video", str(video_path))) if video_path else None
                    trials = self.collect_surviving(
                        pool, learner, "evaluation", run.trials, before=start_video,
                        on_finish=lambda done, n: self.report("episode", **asdict(_trial(done, n, run))))
                    if video_path is not None:
                        pool.call(0, "end_video")
            except WorkerError as error:
                self.log(f"ERROR: {error}")
                raise TrainingError(f"{error.kind}: {error.message}") from error
            rows = [artifacts.trace_row(n, trace) for n, done in enumerate(trials) for trace in done.traces]
            simtrace = folder / artifacts.EVALUATION_SIMTRACE
            artifacts.write_simtrace(simtrace, rows)
            self.log(*(artifacts.simtrace_log_line(row) for row in rows), to_console=False)
        results = [_trial(done, n + 1, run) for n, done in enumerate(trials)]
        metrics_path = self.model_dir / "metrics" / f"EvaluationMetrics-{stamp}.json"
        artifacts.MetricsFile(metrics_path).append([
            artifacts.metrics_record(
                episode=n + 1, trial=n + 1, phase="evaluation", reward=done.total_reward, progress=done.progress,
                status=done.status, start_time=done.start_time, end_time=done.end_time,
                crash_count=result.crash_count, immobilized_count=int(done.status == "immobilized"),
                off_track_count=result.off_track_count, reversed_count=int(done.status == "reversed"),
                reset_count=result.reset_count)
            for n, (done, result) in enumerate(zip(trials, results, strict=True))])
        return EvaluationResult(stamp, results, metrics_path, simtrace, video_path, self.stop_reason is not None)


def _new_evaluation_folder(model_dir: Path) -> tuple[str, Path]:
    """evaluation-<YYYYmmddHHMMSS>/ (deepracer-utils finds a deepracer-for-cloud folder's evaluations so);
    two evaluations started in the same second take the next free second."""
    moment = datetime.now(UTC)
    while True:
        stamp = moment.strftime("%Y%m%d%H%M%S")
        folder = model_dir / f"evaluation-{stamp}"
        try:
            folder.mkdir(parents=True)
            return stamp, folder
        except FileExistsError:
            moment += timedelta(seconds=1)


def _trial(done: Finished, number: int, run: EvaluationRun) -> TrialResult:
    info = done.info
    off_track = int(info.get("off_track_count", int(done.status == "off_track")))
    crashes = int(info.get("crash_count", int(done.status == "crashed")))
    off_penalty = off_track * run.off_track_penalty if run.continuous else 0.0
    crash_penalty = crashes * run.collision_penalty if run.continuous else 0.0
    seconds = done.sim_time + off_penalty + crash_penalty
    return TrialResult(trial=number, time=format_lap_time(seconds), time_seconds=round(seconds, 3),
                       completion=round(done.progress, 2), status=done.status, off_track_count=off_track,
                       off_track_penalty=off_penalty, crash_count=crashes, crash_penalty=crash_penalty,
                       reset_count=int(info.get("reset_count", 0)), steps=len(done.episode))


def evaluate(run: EvaluationRun, report: Callable[[Progress], bool]) -> EvaluationResult:
    """Evaluate a model folder's checkpoint: trials with the deterministic policy, metrics, trace, video."""
    reuse_freed_memory()
    return _Evaluator(run, report).evaluate()
