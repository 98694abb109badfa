"""Shared fixtures: free ports, an in-process streamer, real clients on the PATH."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))
sys.path.append(str(ROOT))  # the `bench` package, whose tests import it
# Subprocesses (the CLI under test) import this tree's package too, not an installed one.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
)


@pytest.fixture
def port() -> int:
    from support.env import free_port

    return free_port()


@pytest.fixture(autouse=True)
def _quiet_gst_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GST_DEBUG", os.environ.get("GST_DEBUG", "1"))


@pytest.fixture(autouse=True)
def _reap_servers() -> Iterator[None]:
    """A test that fails half-way must not leave its CLI server running."""
    yield
    from support.env import reap_spawned

    reap_spawned()
