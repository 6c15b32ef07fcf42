"""Run a racer's reward function in a long-lived, isolated process.

Reward code is hostile (DESIGN.md). It never runs in the worker: ``RewardSandbox`` starts one child
process per rollout worker that confines itself (rlimits, no capabilities, Landlock, a seccomp allowlist;
see ``confine.py``), loads the racer's module once and then evaluates ``reward_function`` on the params it
is sent, one call or a batch per round trip (``runner.py``). Two backends start that child:

- ``bubblewrap``: inside ``bwrap`` with every namespace unshared (no network, no other processes), an empty
  environment, and read-only binds of only the interpreter, the system libraries and the allowed packages;
- ``landlock``: the same child without bubblewrap, for hosts that forbid namespaces (a default Docker
  container); Landlock, seccomp and rlimits then hold on their own.

``check_isolation()`` proves a backend works by running a probe of escapes inside it; if none passes,
``IsolationUnavailable`` says why and training refuses to start. ``REWARD_SANDBOX=unsafe-local`` is the
explicit, loudly logged opt-out for a single-user machine (a plain child process, no confinement).

Params go in as orjson, rewards come back as doubles, prints and errors as bounded, length-prefixed text
the parent parses defensively; nothing is unpickled. Every failure becomes a ``RewardFunctionError``
subclass; a timed-out, crashed or misbehaving child is killed and restarted on the next call.

The child dies with its parent through PR_SET_PDEATHSIG, which fires when the parent THREAD that started it
exits: create the sandbox on a thread that lives as long as the sandbox (the worker's main thread).
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import weakref
from collections import deque
from ctypes.util import find_library
from importlib.util import find_spec
from pathlib import Path

import orjson

from simulator.reward import protocol as wire

logger = logging.getLogger(__name__)

BACKENDS = ("bubblewrap", "landlock")       # in order of preference
UNSAFE_BACKEND = "unsafe-local"
ENV_SWITCH = "REWARD_SANDBOX"               # "unsafe-local", or force one backend by name

DEFAULT_CALL_TIMEOUT = 5.0                  # seconds per reward_function call
DEFAULT_LOAD_TIMEOUT = 30.0                 # seconds to confine, import numpy & co. and run module code
DEFAULT_MEMORY_LIMIT = 1 << 30              # bytes of address space (numpy + scipy + shapely use ~250 MB)
MAX_FILE_BYTES = 16 << 20                   # RLIMIT_FSIZE: the child's log
MAX_OPEN_FILES = 64
CPU_SECONDS = 24 * 3600                     # backstop only: per-call deadlines are what stop loops
MAX_CODE_CHARS = 1 << 20                    # Validate enforces SPEC's 140,000; this bounds the start frame
MAX_PRINT_LINES = 2000                      # lines of print output kept until drain_prints()
MAX_PRINT_LINE_CHARS = 4000
STDERR_TAIL_BYTES = 2000                    # of the child's log, quoted when it crashes
PIPE_BYTES = 1 << 20
BATCH_CHUNK = 32                            # params per request when a batch is pipelined (see _call_run)
# The most a well-behaved child can have written before the parent reads: two replies in flight.
MAX_BUFFERED = 2 * (wire.REPLY.size + 8 * wire.MAX_BATCH + wire.MAX_TEXT)
KILL_GRACE = 0.5                            # seconds a closing child gets before SIGKILL
ONE_REWARD_HEADER = wire.REPLY.pack(wire.ST_OK, 1, 0)
ONE_REWARD_REPLY_SIZE = wire.REPLY.size + wire.DOUBLE.size

ALLOWED_PACKAGES = ("numpy", "scipy", "shapely")        # SPEC 1's third-party imports
RUNNER_PACKAGES = ("orjson", "pyseccomp")               # what the runner itself needs
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
SANDBOX_ROOT = "/sandbox"                                # where bubblewrap mounts site/ and lib/
HERE = Path(__file__).resolve().parent
# The base interpreter, not a virtualenv's copy or link of it: the child runs without the venv (it sees
# only the allowed packages, bound into a site dir of its own).
INTERPRETER = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


class RewardFunctionError(Exception):
    """A reward function failed. ``kind`` names the failure, ``line`` is in the racer's code when known."""

    kind = "error"

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class RewardCodeError(RewardFunctionError):
    """The racer's code raised (or failed to load)."""
    kind = "code"


class RewardTimeout(RewardFunctionError):
    """A call (or the module load) ran past its deadline; the child was killed."""
    kind = "timeout"


class RewardCrash(RewardFunctionError):
    """The child died (a signal, a resource limit, the sandbox failing to start)."""
    kind = "crash"


class RewardMemoryError(RewardFunctionError):
    """The racer's code ran out of its memory limit."""
    kind = "memory"


class RewardValueError(RewardFunctionError):
    """The function returned NaN, inf, an out-of-range value or something that is not a number."""
    kind = "value"


class SandboxProtocolError(RewardFunctionError):
    """The child sent something the protocol does not allow; it was killed."""
    kind = "protocol"


class IsolationUnavailable(RuntimeError):
    """No sandbox backend passed its self-test on this host."""


ERRORS_BY_KIND = {"code": RewardCodeError, "memory": RewardMemoryError, "value": RewardValueError}


# --- what the child may see ------------------------------------------------------------------------

def _package_paths(names) -> list[tuple[str, str]]:
    """(name as seen in the sandbox's site dir, real path) for each package and its vendored libs."""
    found = []
    for name in names:
        spec = find_spec(name)
        if spec is None or spec.origin is None:
            raise IsolationUnavailable(f"the package {name!r} is not installed")
        if spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations)))
        else:
            path = Path(spec.origin)
        found.append((path.name, str(path)))
        vendored = path.parent / f"{name}.libs"
        if vendored.is_dir():
            found.append((vendored.name, str(vendored)))
    return found


def _interpreter_paths() -> list[str]:
    """The real interpreter binary, its standard library and its shared libpython."""
    paths = [INTERPRETER, sysconfig.get_path("stdlib")]
    dynload = sysconfig.get_config_var("DESTSHARED")
    if dynload and not dynload.startswith(paths[1]):
        paths.append(dynload)
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir and sysconfig.get_config_var("Py_ENABLE_SHARED"):
        paths.extend(str(path) for path in Path(libdir).glob("libpython3*.so*"))
    return [path for path in dict.fromkeys(paths) if os.path.exists(path)]


def _system_library_dirs() -> list[str]:
    return [path for path in ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32")
            if os.path.isdir(path)]


def _shared_libraries() -> dict[str, str]:
    """Sonames pyseccomp loads in the child (looked up here: ctypes' lookup would fork ldconfig)."""
    return {name: find_library(name) or "" for name in ("c", "seccomp")}


class _Layout:
    """The paths one child sees: a site dir of allowed packages and a lib dir of the runner's modules.
    Under bubblewrap they are binds under /sandbox; without it, a private temp dir of symlinks that
    Landlock lets the child read.

    Nothing is writable, not even a scratch dir: SPEC 1.3 forbids ``open`` in reward functions, and any
    writable place would let hostile code exhaust the host's inodes (or tmpfs memory) one small file at a
    time, which no size limit stops."""

    def __init__(self, backend: str):
        self.packages = _package_paths(ALLOWED_PACKAGES + RUNNER_PACKAGES)
        self.modules = [(name, str(HERE / name)) for name in wire.CHILD_MODULES]
        self.temp = None
        if backend == "bubblewrap":
            self.root = SANDBOX_ROOT
        else:
            self.temp = tempfile.mkdtemp(prefix="reward-sandbox-")
            self.root = self.temp
            for folder, entries in (("site", self.packages), ("lib", self.modules)):
                os.mkdir(os.path.join(self.temp, folder))
                for name, real in entries:
                    os.symlink(real, os.path.join(self.temp, folder, name))

    @property
    def site(self) -> str:
        return os.path.join(self.root, "site")

    @property
    def lib(self) -> str:
        return os.path.join(self.root, "lib")

    def read_paths(self, backend: str) -> list[str]:
        paths = [*_system_library_dirs(), *_interpreter_paths(), "/etc/ld.so.cache", os.devnull,
                 "/dev/urandom", self.root]
        if backend != "bubblewrap":         # the symlinks' targets
            paths += [real for _, real in self.packages + self.modules]
        return paths

    def cleanup(self) -> None:
        if self.temp:
            shutil.rmtree(self.temp, ignore_errors=True)
            self.temp = None


def _child_environment() -> dict[str, str]:
    return {"LANG": "C.UTF-8", **dict.fromkeys(THREAD_VARIABLES, "1")}


def _python_command(layout: _Layout) -> list[str]:
    bootstrap = (f"import sys; sys.path[:0] = [{layout.lib!r}, {layout.site!r}]; "
                 "import runner; runner.main()")
    return [INTERPRETER, "-I", "-S", "-B", "-c", bootstrap]


def _bubblewrap_command(layout: _Layout) -> list[str]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise IsolationUnavailable("bubblewrap (bwrap) is not installed")
    command = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
               "--new-session", "--cap-drop", "ALL", "--uid", "65534", "--gid", "65534",
               "--hostname", "reward-sandbox", "--clearenv"]
    for name, value in _child_environment().items():
        command += ["--setenv", name, value]
    for path in _system_library_dirs():
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        else:
            command += ["--ro-bind", path, path]
    for path in _interpreter_paths():
        command += ["--ro-bind", path, path]
    command += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--dev", "/dev"]
    for folder, entries in (("site", layout.packages), ("lib", layout.modules)):
        for name, real in entries:
            command += ["--ro-bind", real, f"{SANDBOX_ROOT}/{folder}/{name}"]
    command += ["--remount-ro", "/", "--chdir", SANDBOX_ROOT, "--"]
    return command + _python_command(layout)


def _confinement(backend: str, layout: _Layout) -> dict:
    rlimits = {"RLIMIT_AS": DEFAULT_MEMORY_LIMIT, "RLIMIT_FSIZE": MAX_FILE_BYTES,
               "RLIMIT_NOFILE": MAX_OPEN_FILES, "RLIMIT_CORE": 0, "RLIMIT_CPU": CPU_SECONDS,
               "RLIMIT_MEMLOCK": 0, "RLIMIT_MSGQUEUE": 0, "RLIMIT_NPROC": 1}
    return {
        "confine": backend != UNSAFE_BACKEND,
        "parent_pid": None if backend == "bubblewrap" else os.getpid(),
        "rlimits": rlimits,
        "read_paths": layout.read_paths(backend),
        "write_paths": [],
        "require_landlock": backend == "landlock",
        "libraries": _shared_libraries(),
    }


# --- the parent's end -------------------------------------------------------------------------------

class RewardSandbox:
    """One sandboxed process holding the racer's module. Use as a context manager, or call close()."""

    def __init__(self, code: str, *, call_timeout: float = DEFAULT_CALL_TIMEOUT, backend: str = "auto",
                 strict_float: bool = False, memory_limit: int = DEFAULT_MEMORY_LIMIT,
                 load_timeout: float = DEFAULT_LOAD_TIMEOUT, _allow_all_imports: bool = False,
                 _self_tested: bool = False):
        if not isinstance(code, str):
            raise TypeError("the reward function code must be a str")
        if len(code) > MAX_CODE_CHARS:
            raise RewardCodeError(f"the reward function is {len(code):,} characters, over the limit")
        self.code = code
        self.call_timeout = float(call_timeout)
        self.load_timeout = float(load_timeout)
        self.strict_float = strict_float
        self.memory_limit = int(memory_limit)
        self.backend = backend if _self_tested else check_isolation(backend)
        self.restarts = -1                  # the first start is not a restart
        self.info: dict = {}
        self._allow_all_imports = _allow_all_imports
        self._prints: deque[str] = deque(maxlen=MAX_PRINT_LINES)
        self._dropped_prints = 0
        self._proc = None
        self._finalizer = None
        self._start()

    # context manager & lifetime
    def __enter__(self) -> RewardSandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Stop the child (it exits on end of input; SIGKILL after a grace period) and clean up."""
        if self._finalizer is not None:
            self._finalizer()
        self._proc = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    # calls
    def __call__(self, params: dict) -> float:
        """One round trip: the reward for one params dict (plugs into DeepRacerEnv's reward_fn)."""
        if self._proc is None:
            self._start()
        frame = b""
        if "waypoints" in params:
            frame = self._waypoints_frame(params["waypoints"])
            params = params.copy()
            del params["waypoints"]
        payload = _dumps(params)
        frame += wire.REQUEST.pack(wire.OP_CALL, len(payload)) + payload
        return self._exchange(frame, 1, self.call_timeout)[0]

    def call_batch(self, params_list) -> list[float]:
        """Rewards for many params dicts in order: one pipelined exchange per run of equal waypoints
        (see _call_run). After a failure, ``error.completed`` counts the rewards computed before it."""
        params_list = list(params_list)
        if not params_list:
            return []
        self._ensure_running()
        rewards: list[float] = []
        try:
            self._call_runs(params_list, rewards)
        except RewardFunctionError as error:
            if hasattr(error, "completed"):
                error.completed += len(rewards)
            raise
        return rewards

    def _call_runs(self, params_list: list[dict], rewards: list[float]) -> None:
        """Append the rewards of ``params_list`` to ``rewards``, one run of params at a time that share
        their waypoints."""
        run: list[dict] = []
        frame = b""                 # the waypoints frame that must precede ``run``, if they changed
        checked = None              # waypoints already known to equal the child's, in this call only
        for params in params_list:
            waypoints = params.get("waypoints")
            # Identity is safe only within this call (nothing can mutate the lists while it runs); any
            # other list is compared in full with what the child holds.
            if waypoints is not checked and waypoints is not None:
                if not _same_points(waypoints, self._waypoints_sent):
                    if run:
                        rewards.extend(self._call_run(frame, run))
                        run = []
                    frame = self._waypoints_frame(waypoints)
                checked = waypoints
            if "waypoints" in params:
                params = params.copy()      # a dict copy and a del beat a filtering comprehension 4x
                del params["waypoints"]
            run.append(params)
            if len(run) == wire.MAX_BATCH:
                rewards.extend(self._call_run(frame, run))
                run, frame = [], b""
        if run:
            rewards.extend(self._call_run(frame, run))

    def _call_run(self, frame: bytes, run: list[dict]) -> list[float]:
        """Rewards for params (without their waypoints) that share the waypoints the child holds once
        ``frame`` (empty, or those waypoints) is sent. A long run goes in chunks, each sent before the
        previous one's reply is read: the child computes one chunk while this process encodes the next."""
        chunks = [run[start:start + BATCH_CHUNK] for start in range(0, len(run), BATCH_CHUNK)]
        rewards: list[float] = []
        unencodable = None          # params that orjson refused, raised once the request in flight is answered
        payload = _dumps(chunks[0])     # bad params fail here, before anything is sent
        try:
            self._send_request(frame, wire.OP_BATCH, payload, len(chunks[0]))
            for index, chunk in enumerate(chunks):
                if index + 1 < len(chunks):
                    try:
                        payload = _dumps(chunks[index + 1])
                    except orjson.JSONEncodeError as error:
                        unencodable = error
                    else:
                        self._send_request(b"", wire.OP_BATCH_MORE, payload, len(chunks[index + 1]))
                more = index + 1 < len(chunks) and unencodable is None
                rewards += self._reply(len(chunk), self.call_timeout * len(chunk), more=more)
                if unencodable is not None:
                    break
        except RewardFunctionError as error:
            if hasattr(error, "completed"):
                error.completed += len(rewards)
            raise
        except BaseException:
            self._kill()                # interrupted with a request in flight: its reply would be stale
            raise
        if unencodable is not None:
            raise unencodable
        return rewards

    def _send_request(self, frame: bytes, op: int, payload: bytes, count: int) -> None:
        frame += wire.REQUEST.pack(op, len(payload)) + payload
        timeout = self.call_timeout * count
        self._send(frame, time.monotonic() + timeout, timeout)

    def drain_prints(self) -> list[str]:
        """The print() output captured since the last drain, as lines, bounded."""
        lines = list(self._prints)
        self._prints.clear()
        if self._dropped_prints:
            lines.append(f"[{self._dropped_prints} earlier lines of print output dropped]")
            self._dropped_prints = 0
        return lines

    # the child's lifecycle
    def _start(self) -> None:
        self.restarts += 1
        self.info = {}
        layout = _Layout(self.backend)
        log = tempfile.TemporaryFile(prefix="reward-sandbox-log-")
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        try:
            command = _bubblewrap_command(layout) if self.backend == "bubblewrap" else _python_command(layout)
            proc = subprocess.Popen(
                command, stdin=request_read, stdout=reply_write, stderr=log, close_fds=True,
                env=_child_environment(), cwd=layout.temp or "/",
                start_new_session=True)
        except BaseException:
            for fd in (request_read, request_write, reply_read, reply_write):
                os.close(fd)
            log.close()
            layout.cleanup()
            raise
        os.close(request_read)          # the child's ends
        os.close(reply_write)
        for fd in (request_write, reply_read):
            os.set_blocking(fd, False)
            try:
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:
                pass                        # a smaller pipe only means more round trips for big batches
        self._proc, self._log = proc, log
        self._write_fd, self._read_fd = request_write, reply_read
        self._buffer = bytearray()
        self._poller = select.poll()
        self._poller.register(reply_read, select.POLLIN)
        self._spin = True
        self._waypoints_sent = None
        self._finalizer = weakref.finalize(self, _stop_child, proc, request_write, reply_read, log, layout)
        confinement = _confinement(self.backend, layout)
        confinement["rlimits"]["RLIMIT_AS"] = self.memory_limit
        start = _dumps({"code": self.code, "strict_float": self.strict_float, "confine": confinement,
                        "allow_all_imports": self._allow_all_imports})
        self._exchange(wire.REQUEST.pack(wire.OP_START, len(start)) + start, 0, self.load_timeout,
                       expect=wire.ST_READY)

    def _ensure_running(self) -> None:
        if self._proc is None:
            self._start()

    def _kill(self) -> None:
        """Stop a child that misbehaved now (no grace period), then clean up as close() does."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self.close()

    # the exchange
    def _waypoints_frame(self, waypoints) -> bytes:
        if waypoints is None or _same_points(waypoints, self._waypoints_sent):
            return b""
        payload = _dumps(waypoints)
        self._waypoints_sent = [tuple(point) for point in waypoints]
        return wire.REQUEST.pack(wire.OP_WAYPOINTS, len(payload)) + payload

    def _exchange(self, frame: bytes, count: int, timeout: float, expect: int = wire.ST_OK) -> list[float]:
        self._send(frame, time.monotonic() + timeout, timeout)
        return self._reply(count, timeout, expect)

    def _reply(self, count: int, timeout: float, expect: int = wire.ST_OK, more: bool = False) -> list[float]:
        """The reply to the oldest request; ``more`` when another request is already in flight (its
        reply may follow this one in the buffer, and the child skips it if this one is an error)."""
        deadline = time.monotonic() + timeout
        if count == 1 and expect == wire.ST_OK and not more:
            # The hot path of one call: a header saying "one reward, no text" and the reward.
            self._fill(deadline, timeout)
            buffer = self._buffer
            if len(buffer) == ONE_REWARD_REPLY_SIZE and buffer.startswith(ONE_REWARD_HEADER):
                reward = wire.DOUBLE.unpack_from(buffer, wire.REPLY.size)[0]
                buffer.clear()
                return _checked_rewards((reward,))
        status, values, text = self._receive(count, deadline, timeout, more)
        if status == expect == wire.ST_OK:
            rewards = _checked_rewards(values)
            if text:
                self._keep_prints(text.decode("utf-8", "replace"))
            return rewards
        if status == expect == wire.ST_READY:
            self.info = _parse_object(text, self)
            self._keep_prints(str(self.info.pop("prints", "")))
            return []
        if status == wire.ST_ERROR:
            raise self._racer_error(text, len(values))
        self._kill()
        raise SandboxProtocolError(f"the reward sandbox replied with status {status} out of turn")

    def _send(self, frame: bytes, deadline: float, timeout: float) -> None:
        view = memoryview(frame)
        while view:
            try:
                view = view[os.write(self._write_fd, view):]
            except BlockingIOError:
                self._wait_to_write(deadline, timeout)
            except BrokenPipeError:
                raise self._crash() from None

    def _receive(self, count: int, deadline: float, timeout: float,
                 more: bool = False) -> tuple[int, tuple, bytes]:
        buffer = self._buffer
        while len(buffer) < wire.REPLY.size:
            self._fill(deadline, timeout)
        status, n_values, text_length = wire.REPLY.unpack_from(buffer)
        if status > wire.ST_READY or n_values > count or text_length > wire.MAX_TEXT:
            self._kill()
            raise SandboxProtocolError("the reward sandbox sent a malformed reply "
                                       f"(status {status}, {n_values} values, {text_length} bytes of text)")
        end = wire.REPLY.size + 8 * n_values + text_length
        while len(buffer) < end:
            self._fill(deadline, timeout)
        if len(buffer) > end and not more:
            self._kill()
            raise SandboxProtocolError("the reward sandbox sent more than it was asked for")
        values = struct.unpack_from(f"<{n_values}d", buffer, wire.REPLY.size)
        text = bytes(buffer[end - text_length:end])
        del buffer[:end]                # what follows is the reply to the request in flight
        if status == wire.ST_OK and n_values != count:
            self._kill()
            raise SandboxProtocolError(f"the reward sandbox returned {n_values} rewards for {count} calls")
        return status, values, text

    def _fill(self, deadline: float, timeout: float) -> None:
        """Append the next chunk of the reply: spin briefly while replies come quickly (see
        protocol.SPIN_SECONDS), then block in poll() until the deadline."""
        clock = time.perf_counter
        started = clock()
        give_up = started + (wire.SPIN_SECONDS if self._spin else 0.0)
        while True:
            try:
                chunk = os.read(self._read_fd, 1 << 16)
                break
            except BlockingIOError:
                if clock() < give_up:
                    os.sched_yield()        # hand the core to the child if it is waiting for one
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._poller.poll(math.ceil(remaining * 1000)):
                if time.monotonic() >= deadline:
                    self._timeout(timeout)
        self._spin = clock() - started < wire.SPIN_SECONDS
        if not chunk:
            raise self._crash()
        self._buffer += chunk

    def _wait_to_write(self, deadline: float, timeout: float) -> None:
        """Wait for room in the request pipe, taking in replies meanwhile: a child blocked writing a
        reply to a full pipe would otherwise never read the request (a deadlock)."""
        poller = select.poll()
        poller.register(self._write_fd, select.POLLOUT)
        poller.register(self._read_fd, select.POLLIN)
        events = poller.poll(max(0, math.ceil((deadline - time.monotonic()) * 1000)))
        if not events:
            self._timeout(timeout)
        if any(fd == self._read_fd for fd, _ in events):
            try:
                chunk = os.read(self._read_fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                raise self._crash()
            self._buffer += chunk
            if len(self._buffer) > MAX_BUFFERED:
                self._kill()
                raise SandboxProtocolError("the reward sandbox sent more than it was asked for")

    def _timeout(self, timeout: float):
        loading = not self.info
        self._kill()
        what = "loading the module" if loading else "reward_function"
        raise RewardTimeout(f"{what} did not finish within {timeout:g} s; the sandbox was stopped "
                            "(it restarts, with fresh module state, on the next call)")

    def _crash(self) -> RewardCrash:
        proc, log = self._proc, self._log
        try:
            returncode = proc.wait(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            returncode = None
        tail = _log_tail(log)
        self._kill()
        return RewardCrash(f"the reward sandbox died ({_describe_exit(returncode)})"
                           + (f": {tail}" if tail else ""))

    def _racer_error(self, text: bytes, completed: int) -> RewardFunctionError:
        report = _parse_object(text, self)
        message, line = report.get("message"), report.get("line")
        error_class = ERRORS_BY_KIND.get(report.get("kind"))
        if (error_class is None or not isinstance(message, str)
                or not (line is None or isinstance(line, int))):
            self._kill()
            return SandboxProtocolError("the reward sandbox sent a malformed error report")
        self._keep_prints(str(report.get("prints") or ""))
        if not self.info:                   # a load failure: the child has exited
            self._kill()
        error = error_class(message[:4000], line)
        error.completed = completed         # rewards computed before the failure, in a batch
        return error

    def _keep_prints(self, text: str) -> None:
        if not text:
            return
        lines = text.splitlines()
        overflow = len(self._prints) + len(lines) - MAX_PRINT_LINES
        if overflow > 0:
            self._dropped_prints += overflow
        self._prints.extend(line[:MAX_PRINT_LINE_CHARS] for line in lines)


def _stop_child(proc, write_fd, read_fd, log, layout) -> None:
    """Close the request pipe (the runner exits), then make sure: SIGKILL, reap, release everything."""
    for fd in (write_fd, read_fd):
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        proc.wait(timeout=KILL_GRACE if proc.returncode is None else 0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    layout.cleanup()


def _dumps(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def _same_points(points, sent) -> bool:
    """Whether ``points`` equal the point tuples last sent to the child. False (send them again) for
    anything that will not compare as a list of points, such as a NumPy array."""
    if points is sent:
        return True
    if sent is None:
        return False
    try:
        if points == sent:          # fast when the points are the very tuples sent (the env's case)
            return True
        # A tuple of points, or points as lists, are the same when every point is.
        return len(points) == len(sent) and all(map(_same_point, points, sent))
    except (ValueError, TypeError):
        return False


def _same_point(point, sent: tuple) -> bool:
    return type(point) in (list, tuple) and tuple(point) == sent


def _checked_rewards(values) -> list[float]:
    """The child checks too; this holds even if the racer's code forged a reply on the pipe."""
    for value in values:
        if not -wire.REWARD_LIMIT <= value <= wire.REWARD_LIMIT:        # False for NaN too
            raise RewardValueError(f"the reward {value!r} is not finite or outside "
                                   f"[-{wire.REWARD_LIMIT:g}, {wire.REWARD_LIMIT:g}]")
    return list(values)


def _parse_object(text: bytes, sandbox: RewardSandbox) -> dict:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        sandbox._kill()
        raise SandboxProtocolError("the reward sandbox sent text that is not a JSON object")
    return value


def _log_tail(log) -> str:
    try:
        log.seek(0, os.SEEK_END)
        size = log.tell()
        log.seek(max(0, size - STDERR_TAIL_BYTES))
        return log.read().decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return ""


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running; killed"
    if returncode < 0 or returncode > 128:
        number = -returncode if returncode < 0 else returncode - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        hint = {"SIGKILL": " (a resource limit, or the system's OOM killer)",
                "SIGXCPU": " (CPU time limit)", "SIGXFSZ": " (file size limit)",
                "SIGSYS": " (a forbidden system call)", "SIGSEGV": " (a crash, e.g. unbounded recursion)"}
        return f"killed by {name}{hint.get(name, '')}"
    return f"exit status {returncode}"


# --- the self-test ----------------------------------------------------------------------------------

# Run inside a candidate backend with imports unrestricted: every attempt must fail. The probe returns
# the number of attempts that succeeded and prints their names.
PROBE_CODE = r'''
import os, socket, sys

def _fork():
    if os.fork() == 0:
        os._exit(0)

def _read(path):
    with open(path, "rb") as handle:
        handle.read(1)

def _write_outside():
    with open(os.path.join(os.path.dirname(sys.modules["confine"].__file__), "escaped"), "w") as handle:
        handle.write("x")

def _environment():
    extra = set(os.environ) - {"LANG", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                               "MKL_NUM_THREADS", "LC_CTYPE", "PWD"}
    if not extra:
        raise PermissionError("clean")

def _abstract_socket():
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(PARENT_UNIX_SOCKET)

ATTEMPTS = {
    "read /etc/passwd": lambda: _read("/etc/passwd"),
    "read the project's files": lambda: _read(PARENT_FILE),
    "write a file": _write_outside,
    "connect to a TCP port on 127.0.0.1": lambda: socket.create_connection(("127.0.0.1", PARENT_PORT), 1),
    "connect to an abstract unix socket": _abstract_socket,
    "fork": _fork,
    "signal the parent": lambda: os.kill(os.getppid(), 0),
    "list other processes": lambda: os.listdir("/proc"),
    "inherit the parent's environment": _environment,
}

def reward_function(params):
    leaks = []
    for name, attempt in ATTEMPTS.items():
        try:
            attempt()
        except Exception:
            continue
        leaks.append(name)
    print("\n".join(leaks))
    return float(len(leaks))
'''

_isolation_lock = threading.Lock()
_self_tests: dict[str, str | None] = {}     # backend -> None when it passed, else why it failed


def check_isolation(backend: str = "auto") -> str:
    """The name of a backend that passed its self-test (cached per process); raises
    IsolationUnavailable when none did. ``REWARD_SANDBOX`` overrides ``auto``: a backend name forces it,
    ``unsafe-local`` turns isolation off after a loud warning."""
    switch = os.environ.get(ENV_SWITCH, "").strip()
    if backend == "auto" and switch:
        backend = switch
    if backend == UNSAFE_BACKEND:
        logger.warning("!" * 20 + " %s=%s: reward functions run WITHOUT ISOLATION. Only for a single-user "
                       "machine whose every racer you trust. " + "!" * 20, ENV_SWITCH, UNSAFE_BACKEND)
        return UNSAFE_BACKEND
    candidates = BACKENDS if backend == "auto" else (backend,)
    if any(name not in BACKENDS for name in candidates):
        raise ValueError(f"unknown reward sandbox backend {backend!r}; expected one of "
                         f"{', '.join(BACKENDS + (UNSAFE_BACKEND, 'auto'))}")
    with _isolation_lock:
        for name in candidates:
            if name not in _self_tests:
                _self_tests[name] = _self_test(name)
            if _self_tests[name] is None:
                return name
        reasons = "; ".join(f"{name}: {_self_tests[name]}" for name in candidates)
    raise IsolationUnavailable(f"no reward sandbox backend works on this host ({reasons}). Training "
                               f"refuses to run reward functions unisolated; set {ENV_SWITCH}="
                               f"{UNSAFE_BACKEND} to accept that risk on a single-user machine.")


def _self_test(backend: str) -> str | None:
    """None when every escape in PROBE_CODE fails inside the backend, else what went wrong. The parent
    listens on a TCP port and an abstract unix socket so that reaching them is really tested."""
    with socket.create_server(("127.0.0.1", 0)) as tcp, socket.socket(socket.AF_UNIX) as unix:
        unix.bind(f"\0reward-sandbox-probe-{os.getpid()}-{threading.get_ident()}")
        unix.listen()
        code = (f"PARENT_FILE = {str(Path(__file__).resolve())!r}\n"
                f"PARENT_PORT = {tcp.getsockname()[1]}\n"
                f"PARENT_UNIX_SOCKET = {unix.getsockname()!r}\n" + PROBE_CODE)
        try:
            with RewardSandbox(code, backend=backend, _self_tested=True, _allow_all_imports=True) as probe:
                if backend == "landlock" and not probe.info.get("landlock"):
                    return "Landlock is not available"
                if not probe.info.get("seccomp"):
                    return "seccomp could not be loaded"
                if probe({}):
                    return "the probe escaped: " + ", ".join(line for line in probe.drain_prints() if line)
        except (RewardFunctionError, IsolationUnavailable, OSError) as error:
            return f"the probe failed: {error}"
    return None
