"""The attack suite: hostile reward functions must get nothing, on every backend.

Most attacks run with the import rules switched off (``_allow_all_imports``): they are a validation-time
courtesy, and an attacker who gets around them (see the ``__subclasses__`` walks below) must still be
stopped by the OS layers. Each attack must fail with a typed error and a message the racer can act on;
afterwards the worker's sandbox still computes rewards, and the autouse fixture checks no process is left.
"""

import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest

from simulator.reward.sandbox import (
    RewardCodeError,
    RewardCrash,
    RewardFunctionError,
    RewardMemoryError,
    RewardTimeout,
    RewardValueError,
    SandboxProtocolError,
)

REPO = Path(__file__).resolve().parents[3]
BLOCKED_FILE = r"PermissionError|FileNotFoundError"
BLOCKED_CALL = r"PermissionError: \[Errno 1\] Operation not permitted"
SECRET = "canary-secret-8d1f0c"


@pytest.fixture
def host(tmp_path, monkeypatch):
    """What the attacks aim at on the host: a secret in the worker's environment, a database file, a
    writable folder, a TCP port and an abstract unix socket that listen on this machine."""
    monkeypatch.setenv("DJANGO_SECRET_KEY", SECRET)
    database = tmp_path / "db.sqlite3"
    database.write_text(SECRET)
    with socket.create_server(("127.0.0.1", 0)) as tcp, socket.socket(socket.AF_UNIX) as unix:
        unix.bind(f"\0reward-attack-{os.getpid()}")
        unix.listen()
        yield {"pid": os.getpid(), "database": str(database), "folder": str(tmp_path),
               "settings": str(REPO / "pyproject.toml"), "home": str(Path.home()),
               "site_packages": str(Path(pytest.__file__).resolve().parents[1]),
               "writable_on_host": [str(tmp_path), "/dev/shm", "/var/tmp", str(REPO), str(Path.home())],
               "port": tcp.getsockname()[1], "unix": unix.getsockname().decode(), "secret": SECRET}


def attack(make_sandbox, host, body: str, *, call_timeout=2.0, **options):
    """Load ``body`` (which defines reward_function) with every import allowed and call it once with
    the host's details as params. Returns the sandbox and the error the call raised."""
    sandbox = make_sandbox(body, _allow_all_imports=True, call_timeout=call_timeout, **options)
    try:
        sandbox(host)
    except RewardFunctionError as error:
        return sandbox, error
    raise AssertionError(f"the attack returned normally; prints: {sandbox.drain_prints()}")


def assert_still_serving(sandbox):
    sandbox.code = "def reward_function(params):\n    return 0.25\n"
    sandbox.close()
    assert sandbox({}) == 0.25, "the worker's sandbox must come back after an attack"


# (id, code, expected error, message pattern)
ATTACKS = [
    # files
    ("read /etc/passwd", """
        def reward_function(params):
            return float(len(open("/etc/passwd").read()))
    """, RewardCodeError, BLOCKED_FILE),
    ("read the project's settings", """
        def reward_function(params):
            return float(len(open(params["settings"]).read()))
    """, RewardCodeError, BLOCKED_FILE),
    ("read the database file", """
        def reward_function(params):
            return float(len(open(params["database"]).read()))
    """, RewardCodeError, BLOCKED_FILE),
    ("read under /root", """
        def reward_function(params):
            return float(len(open("/root/.bashrc").read()))
    """, RewardCodeError, BLOCKED_FILE),
    ("list the home directory", """
        import os
        def reward_function(params):
            return float(len(os.listdir(params["home"])))
    """, RewardCodeError, BLOCKED_FILE),
    ("list the worker's site-packages", """
        import os
        def reward_function(params):
            return float(len(os.listdir(params["site_packages"])))
    """, RewardCodeError, BLOCKED_FILE),
    ("import a package outside the allowed ones", """
        import importlib
        def reward_function(params):
            return float(bool(importlib.import_module("django")))
    """, RewardCodeError, r"ModuleNotFoundError: No module named 'django'"),
    ("write outside the scratch dir", """
        def reward_function(params):
            written = []
            for folder in params["writable_on_host"]:
                try:
                    with open(folder + "/pwned", "w") as handle:
                        handle.write("x")
                    written.append(folder)
                except OSError:
                    pass
            raise PermissionError(f"written: {written}")
    """, RewardCodeError, r"PermissionError: written: \[\]"),
    ("overwrite the runner", """
        import sys
        def reward_function(params):
            with open(sys.modules["runner"].__file__, "a") as handle:
                handle.write("x")
            return 1.0
    """, RewardCodeError, BLOCKED_FILE + "|OSError"),
    ("fill the disk", """
        import os
        def reward_function(params):
            for folder in (os.getcwd(), "/tmp", "/dev/shm", "/var/tmp"):
                try:
                    os.mkdir(os.path.join(folder, "pile"))
                except FileExistsError:
                    pass
                with open(os.path.join(folder, "pile", "0"), "wb") as handle:
                    handle.write(b"x")
            return 1.0
    """, RewardCodeError, BLOCKED_FILE + "|Read-only file system"),
    # network
    ("connect to 127.0.0.1 (Redis, PostgreSQL)", """
        import socket
        def reward_function(params):
            socket.create_connection(("127.0.0.1", params["port"]), timeout=1)
            return 1.0
    """, RewardCodeError, BLOCKED_CALL),
    ("connect to the PostgreSQL unix socket", """
        import socket
        def reward_function(params):
            socket.socket(socket.AF_UNIX).connect("/var/run/postgresql/.s.PGSQL.5432")
            return 1.0
    """, RewardCodeError, BLOCKED_CALL),
    ("connect to an abstract unix socket", """
        import socket
        def reward_function(params):
            socket.socket(socket.AF_UNIX).connect(params["unix"])
            return 1.0
    """, RewardCodeError, BLOCKED_CALL),
    ("send UDP", """
        import socket
        def reward_function(params):
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("1.1.1.1", 53))
            return 1.0
    """, RewardCodeError, BLOCKED_CALL),
    # processes
    ("os.system", """
        import os
        def reward_function(params):
            status = os.system("touch " + params["folder"] + "/pwned")
            if status == 0:
                return 1.0
            raise RuntimeError(f"os.system failed with {status}")
    """, RewardCodeError, r"os.system failed"),
    ("subprocess", """
        import subprocess
        def reward_function(params):
            return float(len(subprocess.run(["cat", "/etc/passwd"], capture_output=True).stdout))
    """, RewardCodeError, BLOCKED_CALL),
    ("fork bomb", """
        import os
        def reward_function(params):
            while True:
                os.fork()
    """, RewardCodeError, BLOCKED_CALL),
    ("thread bomb", """
        import threading, time
        def reward_function(params):
            while True:
                threading.Thread(target=time.sleep, args=(60,)).start()
    """, RewardCodeError, r"can't start new thread"),
    ("multiprocessing", """
        import multiprocessing
        def reward_function(params):
            process = multiprocessing.Process(target=print)
            process.start()
            return 1.0
    """, RewardCodeError, r"PermissionError|OSError|not permitted"),
    ("exec a shell through ctypes", """
        import ctypes
        def reward_function(params):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.execv(b"/bin/sh", (ctypes.c_char_p * 2)(b"/bin/sh", None))
            raise OSError(ctypes.get_errno(), "execv failed")
    """, RewardCodeError, r"Errno 1\]|Errno 2\]|Errno 13\]"),
    # resources
    ("memory bomb", """
        def reward_function(params):
            return float(len("x" * (1 << 34)))
    """, RewardMemoryError, r"ran out of memory"),
    ("numpy memory bomb", """
        import numpy as np
        def reward_function(params):
            return float(np.ones((1 << 16, 1 << 16)).sum())
    """, RewardMemoryError, r"ran out of memory"),
    ("infinite loop", """
        def reward_function(params):
            while True:
                pass
    """, RewardTimeout, r"did not finish within 1 s"),
    ("sleep", """
        import time
        def reward_function(params):
            time.sleep(3600)
            return 1.0
    """, RewardTimeout, r"did not finish within 1 s"),
    ("deep recursion", """
        def down(depth):
            return down(depth + 1) + 1
        def reward_function(params):
            return float(down(0))
    """, RewardCodeError, r"RecursionError"),
    ("unbounded recursion past a raised limit", """
        import sys
        sys.setrecursionlimit(10 ** 8)
        def down(depth):
            return down(depth + 1) + 1
        def reward_function(params):
            return float(down(0))
    """, (RewardCrash, RewardMemoryError, RewardCodeError, RewardTimeout), r"SIGSEGV|memory|Recursion|finish"),
    ("raise the resource limits", """
        import resource
        def reward_function(params):
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            return 1.0
    """, RewardCodeError, r"ValueError|PermissionError"),
    ("a timer that runs code between calls", """
        import signal
        def spin(*_):
            while True:
                pass
        def reward_function(params):
            signal.signal(signal.SIGALRM, spin)
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            return 1.0
    """, RewardCodeError, r"\[Errno 1\] Operation not permitted"),
    # ctypes and raw syscalls: every one must fail (the libc wrapper returns -1)
    ("raw syscalls through ctypes", """
        import ctypes, os
        CALLS = {"socket": (41, 2, 1, 0), "ptrace attach": (101, 16, "ppid", 0, 0),
                 "kill": (62, "ppid", 0), "unshare": (272, 0x10000000), "mount": (165, 0, 0, 0, 0, 0),
                 "clone": (56, 17, 0, 0, 0, 0), "execve": (59, 0, 0, 0), "setns": (308, 0, 0),
                 "process_vm_readv": (310, "ppid", 0, 0, 0, 0, 0), "bpf": (321, 0, 0, 0),
                 "io_uring_setup": (425, 1, 0), "keyctl": (250, 0, 0), "chmod": (90, b"/tmp", 0o777),
                 "seccomp": (317, 0, 0, 0), "ioctl TIOCSTI": (16, 0, 0x5412, 0)}
        def reward_function(params):
            libc = ctypes.CDLL(None, use_errno=True)
            escaped = []
            for name, (number, *args) in CALLS.items():
                args = [params["pid"] if arg == "ppid" else arg for arg in args]
                if libc.syscall(number, *args) >= 0:
                    escaped.append(name)
            raise PermissionError(f"syscalls that worked: {escaped}")
    """, RewardCodeError, r"syscalls that worked: \[\]"),
    # secrets, signals, other processes
    ("read the parent's environment", """
        import os
        def reward_function(params):
            found = [str(dict(os.environ))]
            for path in ("/proc/self/environ", f"/proc/{params['pid']}/environ", "/proc/1/environ",
                         f"/proc/{os.getppid()}/environ"):
                try:
                    found.append(open(path, "rb").read().decode("utf-8", "replace"))
                except OSError:
                    pass
            raise PermissionError("leaked" if any(params["secret"] in text for text in found) else "clean")
    """, RewardCodeError, r"PermissionError: clean"),
    ("signal the parent", """
        import os
        def reward_function(params):
            os.kill(params["pid"], 0)
            os.kill(os.getppid(), 0)
            return 1.0
    """, RewardCodeError, BLOCKED_CALL + "|ProcessLookupError"),
    ("see other processes", """
        import os
        def reward_function(params):
            return float(len(os.listdir("/proc")))
    """, RewardCodeError, BLOCKED_FILE),
    # protocol abuse
    ("forge garbage on the reply pipe", """
        import gc, os
        def reward_function(params):
            channel = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
            os.write(channel.write_fd, b"\\xff" * 64)
            return 1.0
    """, SandboxProtocolError, r"malformed reply"),
    ("forge a reward of 1e300", """
        import gc, os, struct
        def reward_function(params):
            channel = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
            os.write(channel.write_fd, struct.pack("<BII", 0, 1, 0) + struct.pack("<d", 1e300))
            os._exit(0)
    """, RewardValueError, r"not finite or outside"),
    ("forge a huge text", """
        import gc, os, struct
        def reward_function(params):
            channel = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
            os.write(channel.write_fd, struct.pack("<BII", 1, 0, 1 << 30))
            return 1.0
    """, SandboxProtocolError, r"malformed reply"),
    ("close the reply pipe", """
        import gc, os
        def reward_function(params):
            channel = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
            os.close(channel.write_fd)
            return 1.0
    """, RewardCrash, r"reward sandbox died"),
    ("exit the process", """
        import os
        def reward_function(params):
            os._exit(0)
    """, RewardCrash, r"exit status 0"),
    ("call exit()", """
        def reward_function(params):
            raise SystemExit(3)
    """, RewardCodeError, r"called exit\(\)"),
    ("segfault", """
        import ctypes
        def reward_function(params):
            return float(ctypes.string_at(0)[0])
    """, RewardCrash, r"SIGSEGV"),
    ("huge print", """
        def reward_function(params):
            print("x" * 20_000_000)
            raise ValueError("printed")
    """, RewardCodeError, r"ValueError: printed"),
    ("raw write to stderr beyond the file size limit", """
        import os
        def reward_function(params):
            for _ in range(40):
                os.write(2, b"x" * (1 << 20))
            return 1.0
    """, RewardCodeError, r"File too large"),
    # bad rewards
    ("return NaN", "def reward_function(params):\n    return float('nan')\n", RewardValueError, r"nan"),
    ("return inf", "def reward_function(params):\n    return float('inf')\n", RewardValueError, r"inf"),
    ("return 1e300", "def reward_function(params):\n    return 1e300\n", RewardValueError, r"1e\+300"),
    ("return a string", "def reward_function(params):\n    return 'high'\n", RewardValueError, r"str"),
    ("a __float__ that returns NaN", """
        class Sneaky:
            def __float__(self):
                return float("nan")
        def reward_function(params):
            return Sneaky()
    """, RewardValueError, r"nan"),
    ("a __float__ that raises", """
        class Sneaky:
            def __float__(self):
                raise SystemExit(1)
        def reward_function(params):
            return Sneaky()
    """, (RewardValueError, RewardCodeError), r"Sneaky|exit"),
    ("a __float__ that never returns", """
        class Sneaky:
            def __float__(self):
                while True:
                    pass
        def reward_function(params):
            return Sneaky()
    """, RewardTimeout, r"did not finish"),
    ("an exception whose __str__ never returns", """
        class Sneaky(Exception):
            def __str__(self):
                while True:
                    pass
        def reward_function(params):
            raise Sneaky()
    """, RewardTimeout, r"did not finish"),
]


@pytest.mark.parametrize("body, expected, message",
                         [pytest.param(*attack_[1:], id=attack_[0]) for attack_ in ATTACKS])
def test_it_contains_the_attack(make_sandbox, host, body, expected, message):
    sandbox, error = attack(make_sandbox, host, body, call_timeout=1.0)
    assert isinstance(error, expected), f"{type(error).__name__}: {error}"
    assert re.search(message, str(error)), str(error)
    assert not any(os.path.exists(os.path.join(folder, "pwned")) for folder in host["writable_on_host"])
    assert os.environ["DJANGO_SECRET_KEY"] == SECRET and os.getpid() == host["pid"]
    assert_still_serving(sandbox)


# The import rules at run time: direct imports are refused, and the known ways around the refusal yield
# modules whose every effect the OS layers still block.
IMPORT_TRICKS = [
    ("import os", "import os\ndef reward_function(params):\n    return 1.0\n", r"import of 'os' is not allowed"),
    ("__import__", "def reward_function(params):\n    return float(bool(__import__('subprocess')))\n",
     r"import of 'subprocess' is not allowed"),
    ("__builtins__", "def reward_function(params):\n    return float(bool(__builtins__['__import__']('ctypes')))\n",
     r"import of 'ctypes' is not allowed"),
    ("getattr on builtins", """
import math
def reward_function(params):
    importer = getattr(math.__loader__, "load_module", None) or getattr(__builtins__, "get")("__import__")
    return float(bool(importer("importlib")))
""", r"not allowed|ImportError|AttributeError|TypeError"),
    ("relative import", "from . import sandbox\ndef reward_function(params):\n    return 1.0\n",
     r"not allowed"),
]


@pytest.mark.parametrize("code, message", [pytest.param(*trick[1:], id=trick[0]) for trick in IMPORT_TRICKS])
def test_it_refuses_forbidden_imports_at_run_time(backend, code, message):
    from simulator.reward.sandbox import RewardSandbox

    try:
        with RewardSandbox(code, backend=backend) as sandbox:
            sandbox({})
    except RewardCodeError as error:
        assert re.search(message, str(error)), str(error)
    else:
        raise AssertionError("the forbidden import went through")


SUBCLASS_WALK = """
def find(name):
    for cls in ().__class__.__base__.__subclasses__():
        if cls.__name__ == name:
            return cls
    raise LookupError(name)

sys = find("_wrap_close").__init__.__globals__["sys"]
os = sys.modules["os"]
socket = sys.modules["importlib._bootstrap"]._gcd_import("socket")   # the import machinery, unguarded

def reward_function(params):
    outcomes = []
    for attempt in (lambda: os.open("/etc/passwd", os.O_RDONLY),
                    lambda: os.system("id"),
                    lambda: os.kill(params["pid"], 0),
                    lambda: socket.socket(),
                    lambda: open(params["database"]).read()):
        try:
            outcome = attempt()
        except OSError as error:
            outcome = type(error).__name__
        outcomes.append(outcome)
    secret_seen = params["secret"] in str(dict(os.environ))
    raise PermissionError(f"outcomes {outcomes}, secret seen: {secret_seen}")
"""


def test_it_contains_modules_reached_by_a_subclasses_walk(backend, host):
    from simulator.reward.sandbox import RewardSandbox

    with RewardSandbox(SUBCLASS_WALK, backend=backend) as sandbox:
        with pytest.raises(RewardCodeError) as caught:
            sandbox(host)
    message = str(caught.value)
    assert "secret seen: False" in message
    outcomes = re.search(r"outcomes \[(.*)\]", message).group(1).split(", ")
    assert outcomes[0] in ("'PermissionError'", "'FileNotFoundError'")
    assert outcomes[1] != "0", "os.system must not run a shell"
    assert outcomes[2] in ("'PermissionError'", "'ProcessLookupError'")
    assert outcomes[3] == "'PermissionError'"
    assert outcomes[4] in ("'PermissionError'", "'FileNotFoundError'")


def test_it_leaves_the_racer_nowhere_to_write(make_sandbox):
    """No scratch dir either: a writable place would let hostile code exhaust the host's inodes."""
    sandbox = make_sandbox("""
        import os, numpy
        def reward_function(params):
            written = []
            for folder in (os.getcwd(), "/", "/tmp", "/dev", "/dev/shm", os.path.dirname(numpy.__file__)):
                try:
                    with open(os.path.join(folder, "note.txt"), "w") as handle:
                        handle.write("x")
                    written.append(folder)
                except OSError:
                    pass
            return float(len(written))
    """, _allow_all_imports=True)
    assert sandbox({}) == 0.0


def test_it_keeps_a_dying_worker_from_leaving_its_sandbox_behind(backend, tmp_path):
    """The child dies with its parent: start a worker process that holds a sandbox, kill the worker with
    SIGKILL, and the sandbox goes too."""
    import subprocess
    import time

    from tests.simulator.reward.conftest import descendants

    script = tmp_path / "worker.py"
    script.write_text(
        "import sys, time\n"
        "from simulator.reward.sandbox import RewardSandbox\n"
        f"sandbox = RewardSandbox('def reward_function(params):\\n    return 1.0\\n', backend={backend!r})\n"
        "print(sandbox({}), flush=True)\n"
        "time.sleep(60)\n")
    worker = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert worker.stdout.readline().strip() == b"1.0"
        sandboxed = descendants(worker.pid)
        assert sandboxed
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() and
                                              "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
                                              for pid in sandboxed):
        time.sleep(0.05)
    alive = [pid for pid in sandboxed if Path(f"/proc/{pid}").exists()
             and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
    assert not alive
