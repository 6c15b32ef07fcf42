"""Shared fixtures for the reward sandbox tests: the backends to test and a leak check on processes."""

import ctypes
import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from simulator.reward.sandbox import RewardSandbox


def _namespaces_permitted() -> bool:
    """Whether this host lets bubblewrap create namespaces at all (a default Docker container does not)."""
    if shutil.which("bwrap") is None:
        return False
    result = subprocess.run(["bwrap", "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"],
                            capture_output=True, timeout=30)
    return result.returncode == 0


# The fallback (Landlock + seccomp + rlimits) must work everywhere: its absence FAILS the suite. Bubblewrap
# is tested wherever the host allows namespaces; there, a bubblewrap that does not isolate also fails.
PR_SET_CHILD_SUBREAPER = 36
LEAK_GRACE_SECONDS = 3.0

BACKENDS = ["landlock"] + (["bubblewrap"] if _namespaces_permitted() else [])


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def descendants(pid: int) -> list[int]:
    """Processes below pid, from /proc (the sandbox children and, under bubblewrap, theirs)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _set_child_subreaper(on: bool) -> None:
    """Orphans of our children (a sandbox whose bubblewrap parent died) are then re-parented to this
    process instead of init, so the leak check below sees them too."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(int(on)), 0, 0, 0)


def _reap_orphans() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """Every test must leave no sandbox process behind, whatever the racer's code did. A dying sandbox
    gets a moment: the processes inside bubblewrap die with it through PR_SET_PDEATHSIG."""
    before = set(descendants(os.getpid()))
    _set_child_subreaper(True)
    try:
        yield
        deadline = time.monotonic() + LEAK_GRACE_SECONDS
        while True:
            leftover = set(descendants(os.getpid())) - before
            if not leftover or time.monotonic() > deadline:
                break
            time.sleep(0.02)
            _reap_orphans()
        assert not leftover, f"sandbox processes left running: {sorted(leftover)}"
    finally:
        _set_child_subreaper(False)


@pytest.fixture
def make_sandbox(backend):
    """Start sandboxes on the test's backend from dedented code; all are closed after the test."""
    started = []

    def make(code: str, **options) -> RewardSandbox:
        sandbox = RewardSandbox(textwrap.dedent(code), backend=backend, **options)
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.close()
