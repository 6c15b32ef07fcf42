"""Child-side confinement of the reward sandbox: rlimits, capabilities, Landlock and a seccomp allowlist.

Runs inside the sandboxed child, as its first act, before any racer code is loaded (the child is trusted
until then). Every layer holds on its own: bubblewrap (when available) only adds namespaces on top, and
the fallback backend is exactly this stack without them. Standard library, ctypes and pyseccomp only.
"""

import ctypes
import errno
import os
import resource
import signal

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
LAST_CAPABILITY_GUESS = 63          # the loop stops at the kernel's last one

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the same on every architecture.
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_REMOVE_DIR, FS_REMOVE_FILE, FS_MAKE_CHAR, FS_MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
FS_MAKE_REG, FS_MAKE_SOCK, FS_MAKE_FIFO, FS_MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
FS_MAKE_SYM, FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
ROOT_MINIMUM_ABI = 3                # the first ABI that handles truncation
FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_RIGHTS = FS_READ_FILE | FS_READ_DIR
WRITE_RIGHTS = (FS_READ_FILE | FS_READ_DIR | FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR
                  | FS_MAKE_REG | FS_TRUNCATE)

# Everything a CPython interpreter with numpy, scipy and shapely needs once it is running, and nothing
# that reaches outside the process: no sockets, no fork/clone/exec, no signals to others, no ptrace, no
# timers that could run code between calls, no ioctl, no chmod/chown, no namespaces, no new filters.
# Files are further fenced by Landlock (reads of the interpreter and the allowed packages only).
SECCOMP_ALLOWED = (
    "read", "write", "readv", "writev", "pread64", "pwrite64", "close", "lseek",
    "open", "openat", "openat2", "stat", "fstat", "lstat", "newfstatat", "statx", "fstatfs", "statfs",
    "access", "faccessat", "faccessat2", "getdents64", "readlink", "readlinkat", "getcwd", "chdir", "fchdir",
    "fcntl", "dup", "dup2", "dup3", "fsync", "fdatasync", "ftruncate", "truncate", "fadvise64",
    "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "umask",
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "msync",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
    "futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "sched_yield",
    "sched_getaffinity", "getcpu",
    "clock_gettime", "clock_getres", "gettimeofday", "time", "clock_nanosleep", "nanosleep",
    "poll", "ppoll", "select", "pselect6",
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
    "getgroups", "getpgrp", "getrandom", "uname", "sysinfo", "getrusage", "times", "getrlimit",
    "arch_prctl", "exit", "exit_group",
)


class ConfinementError(RuntimeError):
    """A layer of the sandbox could not be put in place (the child exits before loading any code)."""


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise ConfinementError(f"{what} failed: {os.strerror(code)}")
    return result


def _prctl(option: int, arg: int = 0, what: str = "prctl") -> int:
    return _check(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                              ctypes.c_ulong(0)), what)


def die_with_parent(parent_pid: int | None) -> None:
    """SIGKILL this process when the parent goes away, and bail out if it is already gone."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, "PR_SET_PDEATHSIG")
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def set_rlimits(limits: dict[str, int]) -> None:
    """Soft = hard for each limit: the racer's code can lower them further, never raise them."""
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    # A write past RLIMIT_FSIZE then fails with EFBIG (a Python OSError the racer sees) instead of a kill.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def drop_capabilities() -> None:
    """No capabilities at all, even when the sandbox runs as root (the fallback backend under CI)."""
    for capability in range(LAST_CAPABILITY_GUESS + 1):
        present = _libc.prctl(PR_CAPBSET_READ, ctypes.c_ulong(capability), 0, 0, 0)
        if present < 0:
            break                   # past the kernel's last capability
        # Without CAP_SETPCAP (already gone under bubblewrap) the bounding set cannot shrink; it no longer
        # matters then: with no permitted capabilities and no_new_privs nothing can be regained.
        if present:
            _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(capability), 0, 0, 0)
    _libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()          # two zeroed {effective, permitted, inheritable} sets
    _check(_libc.capset(header, data), "capset")
    _check(_libc.capget(header, data), "capget")
    if any(data):
        raise ConfinementError("capabilities could not be dropped")
    _prctl(PR_SET_DUMPABLE, 0, "PR_SET_DUMPABLE")
    _prctl(PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    version = _libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                            ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(int(version), 0)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_restrict(read_paths, write_paths) -> int:
    """Allow reads below read_paths and read-writes below write_paths; deny every other file access,
    every TCP bind/connect (ABI 4+), abstract unix sockets and signals outside the sandbox (ABI 6+).
    Returns the ABI used."""
    abi = landlock_abi()
    if abi < 1:
        raise ConfinementError("Landlock is not available in this kernel")
    if abi < ROOT_MINIMUM_ABI and os.geteuid() == 0:
        # Running as root, the files Landlock only lets us read are our own: before ABI 3 nothing would
        # stop truncating them (open with O_TRUNC, truncate()).
        raise ConfinementError(f"Landlock ABI {abi} cannot stop a root process truncating files; "
                               f"ABI {ROOT_MINIMUM_ABI} (Linux 6.2) or bubblewrap is needed")
    handled_fs = FS_RIGHTS_BY_ABI.get(abi, FS_RIGHTS_BY_ABI[5])
    attr = _RulesetAttr(handled_fs, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _check(_libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr),
                                   ctypes.c_size_t(size), ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        for path in read_paths:
            _add_path_rule(ruleset, path, READ_RIGHTS & handled_fs)
        for path in write_paths:
            _add_path_rule(ruleset, path, WRITE_RIGHTS & handled_fs)
        _prctl(PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")
        _check(_libc.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset),
                             ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi


def _add_path_rule(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return                      # an optional path (e.g. /etc/ld.so.cache) this system lacks
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        _check(_libc.syscall(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset),
                             ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                             ctypes.c_uint32(0)), f"landlock_add_rule({path})")
    finally:
        os.close(fd)


def seccomp_allowlist(libraries: dict[str, str]) -> None:
    """Load the allowlist: any other syscall fails with EPERM, which the racer sees as a Python error.
    Syscalls of a foreign architecture (32-bit int 0x80 on x86_64) kill the process (libseccomp's
    default bad-arch action)."""
    import ctypes.util

    # pyseccomp looks its libraries up at import time; ctypes.util would fork ldconfig for that.
    known = dict(libraries)
    original_find_library = ctypes.util.find_library
    ctypes.util.find_library = lambda name: known.get(name) or original_find_library(name)
    try:
        import pyseccomp
    finally:
        ctypes.util.find_library = original_find_library
    rules = pyseccomp.SyscallFilter(pyseccomp.ERRNO(errno.EPERM))
    for name in SECCOMP_ALLOWED:
        try:
            rules.add_rule(pyseccomp.ALLOW, name)
        except (OSError, ValueError):
            pass                    # not a syscall on this architecture (e.g. open on aarch64)
    # prlimit on itself only: reading limits is harmless; raising them is impossible without capabilities.
    rules.add_rule(pyseccomp.ALLOW, "prlimit64", pyseccomp.Arg(0, pyseccomp.EQ, 0))
    rules.load()


def apply(config: dict) -> dict:
    """Put every configured layer in place, in the order that keeps each one possible."""
    info = {"landlock": 0, "seccomp": False}
    die_with_parent(config.get("parent_pid"))
    set_rlimits(config.get("rlimits", {}))
    if not config.get("confine", True):
        return info
    drop_capabilities()
    try:
        info["landlock"] = landlock_restrict(config["read_paths"], config["write_paths"])
    except ConfinementError:
        if config.get("require_landlock", True):
            raise
    seccomp_allowlist(config["libraries"])
    info["seccomp"] = True
    return info
