"""`make run`'s launcher: it serves the console and stops every process it started on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

from console.launcher import free_port
from tests.processes import clean_environ

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 120


def _descendants(pid: int) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.add(int(entry.name))
    for child in list(children):
        children |= _descendants(child)
    return children


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_page(url: str, launcher: subprocess.Popen) -> bytes:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert launcher.poll() is None, launcher.stdout.read()
        try:
            with urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the console did not answer at {url} within {START_SECONDS} s")


def test_it_serves_the_console_and_stops_everything_on_ctrl_c(tmp_path):
    port = free_port()
    env = clean_environ(PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}",
                        REDIS_PREFIX=f"launcher-test-{os.getpid()}", REDIS_DATA_DIR=str(tmp_path / "redis"))
    env.pop("REDIS_URL", None)  # the embedded server must start and stop too
    launcher = subprocess.Popen([sys.executable, "-m", "console.launcher", "run"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        page = _wait_for_page(f"http://127.0.0.1:{port}/", launcher)
        assert b"Teach a race car to drive itself" in page
        started = _descendants(launcher.pid)
        assert len(started) >= 4  # redis, two workers, web (and what they started)
        printed = []
        while not printed or "press Ctrl-C" not in printed[-1]:  # the URL line comes right after the page
            printed.append(launcher.stdout.readline())
        launcher.send_signal(signal.SIGINT)
        output, _ = launcher.communicate(timeout=90)
        output = "".join(printed) + output
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output
    assert [pid for pid in started if _alive(pid)] == []


def test_it_starts_again_a_child_that_exits_and_gives_up_on_one_that_keeps_exiting():
    from console import launcher

    children = launcher.Children()
    children.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], clean_environ())
    children.start("quitter", [sys.executable, "-c", "pass"], clean_environ())
    try:
        first = children.pid_of("sleeper")
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        restarted = []
        while "sleeper" not in restarted and time.monotonic() < deadline:
            restarted += [name for name, code in children.restart_exited()]
            time.sleep(0.1)
        assert children.pid_of("sleeper") != first and _alive(children.pid_of("sleeper"))
        with pytest.raises(RuntimeError, match=r"quitter exited 6 times within 60 s: stopping the console"):
            while time.monotonic() < deadline:
                children.restart_exited()
                time.sleep(0.05)
    finally:
        children.stop_all()


def test_it_runs_the_embedded_valkey_server_itself_with_an_append_only_file(tmp_path, monkeypatch):
    from console.launcher import redis_argv

    monkeypatch.setenv("REDIS_DATA_DIR", str(tmp_path / "redis"))
    durable = redis_argv(6390, durable=True)
    assert Path(durable[0]).name == "valkey-server" and durable[1:3] == ["--port", "6390"]
    assert durable[durable.index("--appendonly") + 1] == "yes" and durable[durable.index("--dir") + 1] == str(
        tmp_path / "redis")
    assert redis_argv(6390, durable=False)[-2:] == ["--appendonly", "no"]
