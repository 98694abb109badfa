"""Shared fixtures: free ports, an in-process streamer, real clients on the PATH."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))
# Subprocesses (the CLI under test) import this tree's package too, not an installed one.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        # make test installs every client; a missing one is a broken set-up, not a skip.
        pytest.fail(f"{name} is not installed: run 'make setup-dev'")
    return path


@pytest.fixture(autouse=True)
def _quiet_gst_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GST_DEBUG", os.environ.get("GST_DEBUG", "1"))


@pytest.fixture(autouse=True)
def _reap_servers() -> Iterator[None]:
    """A test that fails half-way must not leave its CLI server running."""
    yield
    from support.fakes import reap_spawned

    reap_spawned()
