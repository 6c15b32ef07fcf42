"""The sandboxed side of the reward sandbox: confine this process, load the racer's module once, then
evaluate ``reward_function`` on the params the parent sends, in order, until the parent closes the pipe.

Started by ``simulator.reward.sandbox`` as ``python -I -S -B -c "...; import runner; runner.main()"``
with the request pipe on fd 0, the reply pipe on fd 1 and a size-limited log file on fd 2. Its imports
are top-level (``protocol``, ``confine``): inside the sandbox this file sits beside them in a folder of its
own, and nothing else of the project is visible.
"""

import builtins
import math
import os
import select
import sys
import time
import traceback
import types
from array import array

import confine
import orjson
import protocol as wire

MODULE_NAME = "reward_function"
READ_CHUNK = 1 << 16


class BadReward(Exception):
    """The racer's function returned something that is not a usable reward."""


class PrintBuffer:
    """Stands in for sys.stdout / sys.stderr: keeps at most PRINT_LIMIT characters until collected."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self):
        self._parts = []
        self._size = 0
        self._dropped = 0

    def write(self, text) -> int:
        text = str(text)
        room = wire.PRINT_LIMIT - self._size
        if room <= 0:
            self._dropped += len(text)
        elif len(text) > room:
            self._parts.append(text[:room])
            self._size += room
            self._dropped += len(text) - room
        else:
            self._parts.append(text)
            self._size += len(text)
        return len(text)

    def flush(self) -> None:
        pass

    @property
    def pending(self) -> bool:
        return bool(self._parts or self._dropped)

    def isatty(self) -> bool:
        return False

    def collect(self) -> str:
        if not self._parts and not self._dropped:
            return ""
        text = "".join(self._parts)
        if self._dropped:
            text += f"\n[{self._dropped} more characters of print output dropped]\n"
        self._parts.clear()
        self._size = self._dropped = 0
        return text


class Channel:
    """Framed reads from the request pipe and writes to the reply pipe.

    Waiting for the next request spins briefly before blocking while requests come back to back (see
    protocol.SPIN_SECONDS); once one took longer than the spin, the next wait blocks at once."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd
        self.buffer = bytearray()
        os.set_blocking(read_fd, False)
        self.poller = select.poll()
        self.poller.register(read_fd, select.POLLIN)
        self.spin = True

    def receive(self) -> tuple[int, bytes]:
        while True:
            if len(self.buffer) >= wire.REQUEST.size:
                op, length = wire.REQUEST.unpack_from(self.buffer)
                end = wire.REQUEST.size + length
                if len(self.buffer) >= end:
                    payload = bytes(self.buffer[wire.REQUEST.size:end])
                    del self.buffer[:end]
                    return op, payload
            chunk = self._read()
            if not chunk:
                os._exit(0)             # the parent closed the pipe: nothing more to do
            self.buffer += chunk

    def _read(self) -> bytes:
        clock = time.perf_counter
        started = clock()
        give_up = started + (wire.SPIN_SECONDS if self.spin else 0.0)
        while True:
            try:
                chunk = os.read(self.read_fd, READ_CHUNK)
                break
            except BlockingIOError:
                if clock() < give_up:
                    os.sched_yield()    # spinning must not starve the parent on a busy machine
                else:
                    self.poller.poll()
        self.spin = clock() - started < wire.SPIN_SECONDS
        return chunk

    def send(self, status: int, rewards=(), text: bytes = b"") -> None:
        frame = wire.REPLY.pack(status, len(rewards), len(text))
        if rewards:
            frame += array("d", rewards).tobytes()
        view = memoryview(frame + text)
        while view:
            view = view[os.write(self.write_fd, view):]


def racer_line(error: BaseException) -> int | None:
    """The line of the racer's code closest to where the error was raised."""
    if isinstance(error, SyntaxError) and error.filename == wire.RACER_FILENAME:
        return error.lineno
    line = None
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == wire.RACER_FILENAME:
            line = lineno
    return line


def describe(error: BaseException) -> str:
    try:
        text = str(error)
    except BaseException:           # a racer's exception class whose __str__ itself fails
        text = "<unprintable>"
    name = type(error).__name__
    return f"{name}: {text[:2000]}" if text else name


def error_report(error: BaseException, index: int | None, prints: str, loading: bool = False) -> bytes:
    where = " while loading the module" if loading else ""
    if isinstance(error, BadReward):
        kind, message, line = "value", str(error), None
    elif isinstance(error, MemoryError):
        kind, message, line = "memory", f"ran out of memory{where}", racer_line(error)
    elif isinstance(error, SystemExit):
        kind, message, line = "code", f"the code called exit(){where}", racer_line(error)
    else:
        kind, message, line = "code", describe(error) + (f" ({where.strip()})" if where else ""), racer_line(error)
    return orjson.dumps({"kind": kind, "message": message, "line": line, "index": index, "prints": prints})


def as_reward(value, strict_float: bool) -> float:
    """float(value), refusing what DeepRacer's float() would turn into nonsense or what Validate bans."""
    if strict_float and not isinstance(value, float):
        raise BadReward(f"reward_function returned {type(value).__name__} ({_short_repr(value)}); "
                        "it must return a float, e.g. return float(reward)")
    if isinstance(value, str | bytes | bytearray) or value is None:
        raise BadReward(f"reward_function returned {type(value).__name__} ({_short_repr(value)}), "
                        "not a number")
    try:
        reward = float(value)
    except Exception as error:
        raise BadReward(f"float() of the returned {type(value).__name__} failed: {describe(error)}") from None
    if not math.isfinite(reward) or abs(reward) > wire.REWARD_LIMIT:
        raise BadReward(f"reward_function returned {reward!r}; a reward must be finite and within "
                        f"[-{wire.REWARD_LIMIT:g}, {wire.REWARD_LIMIT:g}]")
    return reward


def _short_repr(value) -> str:
    try:
        text = repr(value)
    except BaseException:
        text = "?"
    return text if len(text) <= 80 else text[:77] + "..."


def guard_imports(module_globals: dict) -> None:
    """Refuse imports outside SPEC 1's list when they come from the racer's own code (judged by the
    calling frame, so ``__import__("os")`` and ``__builtins__["__import__"]`` are caught too)."""
    original_import = builtins.__import__
    get_frame = sys._getframe

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        caller = get_frame(1).f_globals
        if caller is module_globals or caller.get("__name__") == MODULE_NAME:
            top = name.partition(".")[0]
            if level or top not in wire.ALLOWED_IMPORTS:
                raise ImportError(f"import of {name!r} is not allowed in a reward function (allowed: "
                                  "math, random, numpy, scipy, shapely and harmless standard modules)")
        return original_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import


def load_module(code: str, allow_all_imports: bool) -> types.ModuleType:
    module = types.ModuleType(MODULE_NAME)
    module.__file__ = wire.RACER_FILENAME
    sys.modules[MODULE_NAME] = module
    if not allow_all_imports:
        guard_imports(module.__dict__)
    exec(compile(code, wire.RACER_FILENAME, "exec"), module.__dict__)
    function = module.__dict__.get("reward_function")
    if not callable(function):
        raise NameError("the code defines no reward_function(params)")
    return module


def serve(channel: Channel, function, prints: PrintBuffer, strict_float: bool) -> None:
    """The hot loop: one reply per request, in order. Each call gets a freshly decoded params dict (and a
    fresh copy of the waypoint list), so a function that mutates its params cannot affect the next call.
    Points are tuples, as in DeepRacer (JSON only knows lists)."""
    waypoints = None
    batch_failed = False            # the last batch chunk failed: skip the chunks that continue it
    loads, reply_header, limit = orjson.loads, wire.REPLY.pack, wire.REWARD_LIMIT
    one_reward = reply_header(wire.ST_OK, 1, 0)
    while True:
        op, payload = channel.receive()
        if op == wire.OP_CALL:
            try:
                params = loads(payload)
                if waypoints is not None:
                    params["waypoints"] = waypoints.copy()
                if params.get("objects_location"):
                    params["objects_location"] = [tuple(point) for point in params["objects_location"]]
                reward = function(params)
                if type(reward) is not float or not -limit <= reward <= limit:
                    reward = as_reward(reward, strict_float)
            except BaseException as error:
                channel.send(wire.ST_ERROR, (), error_report(error, 0, prints.collect()))
                continue
            if prints.pending:
                channel.send(wire.ST_OK, (reward,), prints.collect().encode("utf-8", "replace"))
            else:
                os.write(channel.write_fd, one_reward + wire.DOUBLE.pack(reward))
        elif op == wire.OP_BATCH or op == wire.OP_BATCH_MORE:
            if op == wire.OP_BATCH_MORE and batch_failed:
                continue
            batch_failed = False
            rewards = []
            try:
                for params in loads(payload):
                    if waypoints is not None:
                        params["waypoints"] = waypoints.copy()
                    if params.get("objects_location"):
                        params["objects_location"] = [tuple(point) for point in params["objects_location"]]
                    reward = function(params)
                    if type(reward) is not float or not -limit <= reward <= limit:
                        reward = as_reward(reward, strict_float)
                    rewards.append(reward)
            except BaseException as error:
                report = error_report(error, len(rewards), prints.collect())
                channel.send(wire.ST_ERROR, rewards, report)
                batch_failed = True
                continue
            channel.send(wire.ST_OK, rewards, prints.collect().encode("utf-8", "replace"))
        elif op == wire.OP_WAYPOINTS:
            waypoints = [tuple(point) for point in loads(payload)]
        else:
            os._exit(3)                 # the parent never sends anything else


def main() -> None:
    channel = Channel(os.dup(0), os.dup(1))
    # Anything written to fd 0/1 by C code or the racer must not reach the protocol pipes.
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    op, payload = channel.receive()
    if op != wire.OP_START:
        os._exit(3)
    start = orjson.loads(payload)
    info = confine.apply(start["confine"])
    prints = PrintBuffer()
    sys.stdout = sys.stderr = sys.__stdout__ = sys.__stderr__ = prints
    sys.stdin = sys.__stdin__ = None
    del payload
    try:
        module = load_module(start["code"], start.get("allow_all_imports", False))
    except BaseException as error:
        channel.send(wire.ST_ERROR, (), error_report(error, None, prints.collect(), loading=True))
        os._exit(0)
    info["prints"] = prints.collect()
    channel.send(wire.ST_READY, (), orjson.dumps(info))
    serve(channel, module.reward_function, prints, start.get("strict_float", False))


if __name__ == "__main__":
    main()
