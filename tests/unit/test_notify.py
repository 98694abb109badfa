"""The systemd notify protocol against a real AF_UNIX datagram socket made by the test."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_streaming.telemetry.systemd import Notifier, socket_address


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def test_ready_watchdog_status_stopping(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    n = Notifier({"NOTIFY_SOCKET": path})
    assert n.enabled
    assert n.ready("streaming")
    assert sock.recv(4096) == b"READY=1\nSTATUS=streaming"
    assert n.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    n.status("2 clients")
    assert sock.recv(4096) == b"STATUS=2 clients"
    n.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    assert n.sent == 4
    n.close()


def test_abstract_socket() -> None:
    name = f"camera-streaming-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    try:
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert n.ready()
        assert sock.recv(4096) == b"READY=1"
        n.close()
    finally:
        sock.close()
    assert socket_address("@x") == b"\0x" and socket_address("/run/x") == "/run/x"


def test_without_systemd_it_is_a_no_op() -> None:
    n = Notifier({})
    assert not n.enabled and not n.ready() and not n.watchdog()
    assert n.watchdog_s is None


def test_vanished_socket_is_logged_not_raised(tmp_path: Path) -> None:
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert not n.ready() and not n.ready()


def test_watchdog_interval() -> None:
    pid = str(os.getpid())
    assert Notifier({"WATCHDOG_USEC": "10000000"}).watchdog_s == 10.0
    assert Notifier({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": pid}).watchdog_s == 4.0
    assert Notifier({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}).watchdog_s is None
    assert Notifier({"WATCHDOG_USEC": "junk"}).watchdog_s is None
