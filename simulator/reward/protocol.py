"""The wire format between the trusted parent and the reward sandbox.

Imported by both sides: by the parent as ``simulator.reward.protocol`` and by the sandboxed runner as a
top-level ``protocol`` module. Standard library only, so it loads inside the sandbox.

Requests (parent -> child) are a fixed header ``REQUEST`` (op, payload length) followed by an orjson
payload. Replies (child -> parent) are a fixed header ``REPLY`` (status, number of rewards, text length),
then the rewards as little-endian doubles, then UTF-8 text: print output for ``OK``, an orjson error object
for ``ERROR``, an orjson info object for ``READY``. Nothing is ever pickled: a compromised child can only
send numbers and bounded text, which the parent parses defensively.
"""

import struct

REQUEST = struct.Struct("<BI")
REPLY = struct.Struct("<BII")
DOUBLE = struct.Struct("<d")

# Request ops.
OP_START = 1        # {"code", "strict_float", "confine": {...}}: confine, then load the racer's module
OP_WAYPOINTS = 2    # the waypoint list, sent only when it changes; the child re-attaches a fresh copy per call
OP_CALL = 3         # one params dict without its waypoints
OP_BATCH = 4        # a list of params dicts without their waypoints
OP_BATCH_MORE = 5   # the next chunk of the same batch, sent before the previous chunk's reply arrives so
                    # that the parent encodes while the child computes; skipped, with no reply, when the
                    # chunk before it failed (no call runs after a failing one, as in one big batch)

# Reply statuses.
ST_OK = 0
ST_ERROR = 1
ST_READY = 2

# Bounds the parent enforces on what it reads (a child that breaks them is killed).
MAX_TEXT = 1 << 20                 # bytes of text in one reply
PRINT_LIMIT = 64 * 1024            # characters of print output the child forwards per reply
MAX_BATCH = 1 << 16                # params in one batch

# Both ends spin (yielding the core on each turn) this long for the other's next message before blocking,
# as long as messages keep arriving within it: back-to-back round trips then skip the idle-CPU wake-up
# latency (measured here: 14k round trips/s blocking on an idle machine, 60k+ spinning), sched_yield keeps
# a spinner from starving the other end on an oversubscribed machine (5.6k/s spinning without it under
# load 4), and an end whose last wait outlasted the spin (an env step between calls) blocks at once.
SPIN_SECONDS = 200e-6

# SPEC 1: what a reward function may import: DeepRacer's own list, then the harmless standard modules
# that locally trained functions use (and ``__future__``, which only changes how the file compiles).
# Validation refuses anything else; the runner refuses it at run time too (a courtesy mirroring
# DeepRacer: the OS layers are what contain hostile code).
ALLOWED_IMPORTS = frozenset({
    "math", "random", "numpy", "scipy", "shapely",
    "bisect", "collections", "functools", "itertools", "heapq", "statistics", "copy", "time", "json", "re",
    "typing", "dataclasses", "enum", "__future__",
})

RACER_FILENAME = "reward_function.py"   # the racer's code appears under this name in tracebacks
# spec.REWARD_LIMIT, repeated because the sandboxed child imports nothing of simulator/ (its files are shipped
# alone); tests/simulator/test_spec.py checks that the two agree.
REWARD_LIMIT = 1e5

# The child runs its confinement code on these top-level names; the parent ships the files beside it.
CHILD_MODULES = ("runner.py", "protocol.py", "confine.py")
