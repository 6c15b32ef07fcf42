"""Env worker processes for the training engine (plain Python: no torch, no Django).

Each worker owns one training env and, on demand, one evaluation env of the same model (and, worker 0,
a "preview" env: evaluation laps for the live video that count nowhere), plus the reward
function (for a sandbox: one long-lived sandbox process per worker). The parent sends actions, the worker
steps and answers with the observation and a small info dict; the policy itself runs batched in the parent.
Frames for the console (JPEG) and the evaluation video (MP4) are encoded here, off the learner's process.
"""

import ctypes
import importlib
import io
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

# Thread counts are set before numpy/MuJoCo/Mesa load in the child: 2 cores are shared by every worker.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS")
INFO_KEYS = ("trace", "episode_status", "progress", "off_track_count", "crash_count", "reset_count",
             "penalty_time")
JPEG_QUALITY = 80
VIDEO_FPS = 15  # one video frame per env step: the video plays in simulated real time
START_TIMEOUT = 120.0  # seconds for a worker to import its env and build it (MuJoCo + EGL can be slow)
# The evaluation env's random stream (its perturbed starts) is kept apart from the training env's, and the
# preview env's (laps driven for the live video while the learner updates) from both.
EVALUATION_SEED_STREAM = 1
PREVIEW_SEED_STREAM = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


WORKER_DIED = "WorkerDied"
PR_SET_PDEATHSIG = 1
# What a signal that ended a worker usually means, for the racer's failure message.
SIGNAL_CAUSES = {
    signal.SIGKILL: "out of memory, or killed by hand",
    signal.SIGSEGV: "it crashed in native code: MuJoCo, rendering or a library",
    signal.SIGABRT: "it crashed in native code: MuJoCo, rendering or a library",
    signal.SIGBUS: "it crashed in native code: MuJoCo, rendering or a library",
    signal.SIGTERM: "stopped by the system",
}


class WorkerError(RuntimeError):
    """An env worker failed; carries the worker's exception type, message and traceback."""

    def __init__(self, worker: int, kind: str, message: str, details: str = ""):
        super().__init__(f"env worker {worker}: {kind}: {message}")
        self.worker, self.kind, self.message, self.details = worker, kind, message, details

    @property
    def died(self) -> bool:
        """The process is gone (killed, crashed, out of memory), as opposed to an error it reported: a new
        process may well succeed where a reported error (the racer's reward code) would only repeat."""
        return self.kind == WORKER_DIED


def describe_exit(pid: int, returncode: int | None) -> str:
    """What ended an env worker process, in words: "process 123 was killed by SIGKILL (out of memory ...)"."""
    if returncode is None:
        return f"process {pid} closed its connection"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"process {pid} was killed by signal {-returncode}"
        cause = SIGNAL_CAUSES.get(sig)
        return f"process {pid} was killed by {sig.name}" + (f" ({cause})" if cause else "")
    return f"process {pid} exited with status {returncode}"


@dataclass
class WorkerSpec:
    """Everything a worker needs to build its envs; pickled once at start."""

    env_factory: str
    """"module:callable" that builds an env from keyword arguments (default simulator.env:DeepRacerEnv)"""
    env_kwargs: dict
    """the model's env settings (track, reverse, sensors, action_space, race_type, ...)"""
    reward_factory: object = None
    """picklable zero-argument callable returning the reward callable, or None for the env's default"""
    start_offset: float = 0.0
    """fraction of the lap where this worker's training round robin begins"""
    render: bool = False
    """this worker renders the chase view for the console (and the evaluation video)"""
    eval_kwargs: dict = field(default_factory=dict)
    """extra env arguments for evaluation episodes (continuous mode, penalties, another track...)"""
    seed: int = 0
    """seed of the worker's env resets (the evaluation env's is derived from it)"""
    threads: int = 1
    """torch/BLAS/Mesa threads in the worker"""


def resolve(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def encode_jpeg(frame) -> bytes:
    from PIL import Image

    if frame.ndim == 3 and frame.shape[0] in (1, 2):  # the car camera, channel first
        frame = frame[0]
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


class VideoWriter:
    """H.264 MP4 (yuv420p, so browsers play it) from RGB frames; libx264 when PyAV has it, else mpeg4."""

    def __init__(self, path: str, fps: int = VIDEO_FPS):
        import av

        # faststart puts the index first, so a browser starts playing before the whole file arrives.
        self.container = av.open(path, mode="w", options={"movflags": "+faststart"})
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self.stream = self.container.add_stream(codec, rate=fps)
        self.stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            self.stream.options = {"preset": "veryfast", "crf": "26"}
        self.sized = False

    def add(self, frame) -> None:
        import av

        if not self.sized:
            # yuv420p needs even dimensions
            self.stream.height, self.stream.width = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
            self.sized = True
        frame = frame[: self.stream.height, : self.stream.width]
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


class _Worker:
    def __init__(self, spec: WorkerSpec):
        self.spec = spec
        self.factory = resolve(spec.env_factory)
        self.reward = spec.reward_factory() if spec.reward_factory is not None else None
        self.envs = {}
        self.env = None
        self.video = None
        self.seeded = set()

    def make_env(self, phase: str):
        if phase not in self.envs:
            kwargs = dict(self.spec.env_kwargs)
            if self.reward is not None:
                kwargs["reward_fn"] = self.reward
            if self.spec.render:
                kwargs["render_mode"] = "rgb_array"
            if phase == "training":
                kwargs.update(mode="training", start_offset=self.spec.start_offset)
            else:
                kwargs.update(mode="evaluation", **self.spec.eval_kwargs)
            self.envs[phase] = self.factory(**kwargs)
        return self.envs[phase]

    def reset(self, phase: str):
        self.env = self.make_env(phase)
        # Seed each env once; later resets continue its own random stream (gymnasium's convention), so
        # every episode starts a little differently while the run stays reproducible from its seed.
        seed = None if phase in self.seeded else self._seed(phase)
        self.seeded.add(phase)
        obs, info = self.env.reset(seed=seed)
        self._video_frame()
        return obs, _small_info(info)

    def _seed(self, phase: str) -> int:
        if phase == "training":
            return self.spec.seed
        # Independent streams from one seed: the evaluation starts are not the training starts.
        stream = PREVIEW_SEED_STREAM if phase == "preview" else EVALUATION_SEED_STREAM
        return int(np.random.SeedSequence([self.spec.seed, stream]).generate_state(1)[0])

    def step(self, action, want_frames: bool):
        obs, reward, terminated, truncated, info = self.env.step(action)
        # One render of the chase view serves the video and the console's frame (a live run wants both
        # every step; the render costs ten times the JPEG).
        chase = self.env.render() if want_frames or self.video is not None else None
        self._video_frame(chase)
        frames = self._frames(chase) if want_frames else None
        prints = self._prints() if (terminated or truncated) else None
        return obs, float(reward), bool(terminated), bool(truncated), _small_info(info), frames, prints

    def _frames(self, chase) -> dict:
        return {"chase": encode_jpeg(chase), "camera": encode_jpeg(self.env.render_camera())}

    def _prints(self) -> list[str]:
        drain = getattr(self.reward, "drain_prints", None)
        return list(drain()) if drain else []

    def start_video(self, path: str):
        self.video = VideoWriter(path)

    def end_video(self):
        if self.video is not None:
            self.video.close()
            self.video = None

    def _video_frame(self, chase=None):
        if self.video is not None and self.env is not None:
            self.video.add(self.env.render() if chase is None else chase)

    def close(self):
        self.end_video()
        for env in self.envs.values():
            env.close()
        close = getattr(self.reward, "close", None)
        if close:
            close()


def _small_info(info: dict) -> dict:
    return {key: info[key] for key in INFO_KEYS if key in info}


def worker_main(connection) -> None:
    """The worker's loop: build the envs from the spec the parent sends first, then serve commands."""
    worker = None
    try:
        worker = _Worker(pickle.loads(connection.recv_bytes()))
        connection.send(("ready", None))
        while True:
            command, *args = connection.recv()
            if command == "close":
                break
            result = getattr(worker, command)(*args)
            connection.send(("ok", result))
    except (EOFError, KeyboardInterrupt, BrokenPipeError, ConnectionResetError):
        pass  # the parent went away: nothing left to answer
    except BaseException as error:  # everything goes back to the parent, which raises it with context
        try:
            connection.send(("error", (type(error).__name__, str(error), traceback.format_exc())))
        except OSError:
            pass
    finally:
        if worker is not None:
            try:
                worker.close()
            except Exception:  # closing after a failure must not hide the failure
                pass
        connection.close()


def _start_process(spec: WorkerSpec) -> tuple[Connection, subprocess.Popen]:
    """A plain child interpreter (not multiprocessing): it may be started from a daemonic process such as
    a Celery prefork child, it does not re-import the caller's __main__, and its thread variables are
    set before numpy, MuJoCo or Mesa load."""
    ours, theirs = socket.socketpair()
    environment = dict(os.environ)
    environment.update({name: str(spec.threads) for name in THREAD_VARIABLES})
    # The child finds the same modules as the parent (the repository root, test helpers).
    environment["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
    try:
        # Its own session: a Ctrl-C in the terminal or a stop signal to the worker's process group reaches
        # the learner, which checkpoints and then closes its env workers; they must not die first. They
        # still die with the learner (PR_SET_PDEATHSIG, set by the child itself: see _die_with_parent).
        process = subprocess.Popen(
            [sys.executable, "-m", "training.rollout_worker", str(theirs.fileno()), str(os.getpid())],
            pass_fds=[theirs.fileno()], env=environment, stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        theirs.close()
    _share_scheduling_priority(process.pid)
    connection = Connection(ours.detach())
    connection.send_bytes(pickle.dumps(spec))
    return connection, process


def _share_scheduling_priority(pid: int) -> None:
    """Linux schedules each session as a group (autogroup) whose nice value is 0 when it starts, and a
    process's own nice value orders it within its group only: the child's new session would undo a learner
    that yields the CPU to the pages (training.worker.worker_yield_cpu). It gets the learner's group's."""
    ours, theirs = Path("/proc/self/autogroup"), Path(f"/proc/{pid}/autogroup")
    try:
        niceness = ours.read_text().split()[-1]
        if niceness != "0":
            theirs.write_text(niceness)
    except (OSError, IndexError):
        pass  # no autogroup here (a container's cgroup, another OS): the inherited nice value is enough


def _die_with_parent(parent_pid: int) -> None:
    """In the child: be killed when the learner's process ends, however it ends (Linux), and leave at once
    if it ended before this line ran."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the closed connection still ends the worker at its next command
    if os.getppid() != parent_pid:
        sys.exit(0)


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process and its descendants have used so far, live ones included
    (a worker's reward sandbox is its child), from /proc (Linux; 0.0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            # Fields after the command name (which may hold spaces): utime stime cutime cstime are 14-17.
            fields = handle.read().rsplit(b")", 1)[1].split()
        children = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                children += handle.read().split()
    except OSError:
        return 0.0
    own = sum(int(value) for value in fields[11:15]) / CLOCK_TICKS
    return own + sum(process_tree_cpu_seconds(int(child)) for child in children)


class WorkerPool:
    """Env worker processes; ``send``/``receive`` pair so that every worker steps at the same time."""

    def __init__(self, specs: list[WorkerSpec]):
        self.specs = list(specs)
        self.connections, self.processes = [], []
        self._start()

    def _start(self) -> None:
        try:
            for spec in self.specs:
                connection, process = _start_process(spec)
                self.connections.append(connection)
                self.processes.append(process)
            for index in range(len(self.specs)):
                self._wait(index, START_TIMEOUT)
        except BaseException:
            self.close()
            raise

    def restart(self) -> None:
        """New processes for every worker (after one died): the others may be mid-step with answers
        pending, so a clean start of all of them is simpler and as fast as it gets."""
        self.close()
        self._start()

    def __len__(self):
        return len(self.connections)

    def cpu_seconds(self) -> float:
        """CPU seconds the worker processes (and their reward sandboxes) have used so far."""
        return sum(process_tree_cpu_seconds(process.pid) for process in self.processes)

    def send(self, index: int, command: str, *args) -> None:
        try:
            self.connections[index].send((command, *args))
        except (BrokenPipeError, OSError):
            raise WorkerError(index, WORKER_DIED, self._death(index)) from None

    def receive(self, index: int):
        return self._wait(index, None)

    def call(self, index: int, command: str, *args):
        self.send(index, command, *args)
        return self.receive(index)

    def _wait(self, index: int, timeout: float | None):
        connection = self.connections[index]
        deadline = None if timeout is None else time.monotonic() + timeout
        while not connection.poll(1.0):
            if self.processes[index].poll() is not None:
                raise WorkerError(index, WORKER_DIED, self._death(index))
            if deadline is not None and time.monotonic() > deadline:
                raise WorkerError(index, "Timeout", f"no answer within {timeout:.0f} s")
        try:
            status, payload = connection.recv()
        except (EOFError, ConnectionResetError):
            raise WorkerError(index, WORKER_DIED, self._death(index)) from None
        if status == "error":
            raise WorkerError(index, *payload)
        return payload

    def _death(self, index: int) -> str:
        process = self.processes[index]
        try:
            process.wait(timeout=2)  # a closed connection comes just before the exit status
        except subprocess.TimeoutExpired:
            pass
        return describe_exit(process.pid, process.returncode)

    def close(self) -> None:
        for connection in self.connections:
            try:
                connection.send(("close",))
            except OSError:
                pass
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for connection in self.connections:
            connection.close()
        self.connections, self.processes = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    _die_with_parent(int(sys.argv[2]))
    worker_main(Connection(int(sys.argv[1])))
