"""The confinement layers, seen from inside the sandbox (the attack suite shows what they block)."""

import pytest

from simulator.reward import confine
from simulator.reward.sandbox import DEFAULT_MEMORY_LIMIT, MAX_OPEN_FILES
from tests.simulator.reward.conftest import BACKENDS

# Syscalls that reach outside the process; none may ever enter the allowlist.
NEVER_ALLOWED = ("socket", "socketpair", "connect", "bind", "clone", "clone3", "fork", "vfork", "execve",
                 "execveat", "kill", "tkill", "tgkill", "ptrace", "process_vm_readv", "process_vm_writev",
                 "setitimer", "alarm", "timer_create", "ioctl", "chmod", "fchmod", "chown", "unshare", "setns",
                 "mount", "prctl", "seccomp", "bpf", "io_uring_setup", "memfd_create", "symlink", "link")


def test_it_never_allows_a_syscall_that_reaches_outside_the_process():
    assert not set(NEVER_ALLOWED) & set(confine.SECCOMP_ALLOWED)


def test_it_finds_landlock_in_this_kernel():
    """The fallback needs Landlock: a host without it fails here rather than skipping the attack suite."""
    assert confine.landlock_abi() >= 1


def test_it_reports_every_layer_in_place(make_sandbox):
    sandbox = make_sandbox("def reward_function(params):\n    return 1.0\n")
    assert sandbox.info["seccomp"] is True
    assert sandbox.info["landlock"] == confine.landlock_abi()


def test_it_applies_the_resource_limits(make_sandbox):
    sandbox = make_sandbox("""
        import resource
        def reward_function(params):
            limit = getattr(resource, params["limit"])
            soft, hard = resource.getrlimit(limit)
            assert soft == hard
            return float(soft / params.get("unit", 1))
    """, _allow_all_imports=True)
    assert sandbox({"limit": "RLIMIT_AS", "unit": 1 << 20}) == DEFAULT_MEMORY_LIMIT >> 20
    assert sandbox({"limit": "RLIMIT_NOFILE"}) == MAX_OPEN_FILES
    assert sandbox({"limit": "RLIMIT_CORE"}) == 0


def test_it_gives_the_child_an_empty_environment(make_sandbox):
    sandbox = make_sandbox("""
        import os
        def reward_function(params):
            print(sorted(os.environ))
            return 1.0
    """, _allow_all_imports=True)
    sandbox({})
    names = sandbox.drain_prints()[0]
    assert set(eval(names)) <= {"LANG", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PWD"}


@pytest.mark.skipif("bubblewrap" not in BACKENDS, reason="this host does not permit namespaces; the "
                                                         "fallback backend is tested instead")
@pytest.mark.parametrize("backend", ["bubblewrap"])
def test_it_runs_as_nobody_in_its_own_namespaces_under_bubblewrap(make_sandbox):
    sandbox = make_sandbox("""
        import os, socket
        def reward_function(params):
            print(os.getuid(), os.getgid(), os.getpid(), socket.gethostname())
            return 1.0
    """, _allow_all_imports=True)
    sandbox({})
    assert sandbox.drain_prints() == ["65534 65534 2 reward-sandbox"]
