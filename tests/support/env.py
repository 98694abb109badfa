"""The test environment: the repository root, free loopback ports, tools on the PATH, polling a
condition (`wait_for`), and the command line as a subprocess (`start_cli`), reaped after each
test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "camera_streaming"]
SPAWNED: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], object], timeout: float, step: float = 0.05) -> bool:
    """Poll `predicate` every `step` seconds until it is true or `timeout` has passed; it is
    asked once more at the deadline, so a condition met during the last sleep still counts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        # make test installs every client; a missing one is a broken set-up, not a skip.
        pytest.fail(f"{name} is not installed: run 'make setup-dev'")
    return path


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    """Return once 127.0.0.1:port accepts connections; fail with the process's stderr."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(proc.communicate()[1])


def start_cli(port: int, *extra: str) -> subprocess.Popen:
    """The CLI serving a 320x240@30 test pattern on 127.0.0.1:port, stats every second."""
    proc = subprocess.Popen(
        [*CLI, "--rtsp", "--source", "test", "--width", "320", "--height", "240", "--fps", "30",
         "--bind", "127.0.0.1", "--port", str(port), "--stats-interval", "1", "--no-http",
         *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    SPAWNED.append(proc)
    wait_for_port(port, proc)
    return proc


def reap_spawned() -> None:
    """Kill CLI processes a failed test left running."""
    while SPAWNED:
        proc = SPAWNED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
