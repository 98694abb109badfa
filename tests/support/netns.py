"""Two network namespaces joined by a veth pair, with multicast routed over it, for tests that
need a real LAN segment of their own (WS-Discovery). Needs root and iproute2; the addresses
(198.51.100.0/24, a documentation range) exist only inside the namespaces."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from support.env import ROOT, SPAWNED

SUBNET_ADDRESSES = ("198.51.100.1", "198.51.100.2")


@dataclass(frozen=True)
class Namespace:
    name: str
    address: str


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@contextmanager
def veth_pair() -> Iterator[tuple[Namespace, Namespace]]:
    """Namespaces A and B, each with lo and one end of a veth pair, multicast routed."""
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root: run the tests as root (CI does)")
    if shutil.which("ip") is None:
        pytest.fail("iproute2's ip is not installed: run 'make setup-dev'")
    tag = f"{os.getpid() % 100000}"
    spaces = (Namespace(f"cs-wsd-a{tag}", SUBNET_ADDRESSES[0]),
              Namespace(f"cs-wsd-b{tag}", SUBNET_ADDRESSES[1]))  # fmt: skip
    links = (f"cswa{tag}", f"cswb{tag}")
    try:
        for ns in spaces:
            _ip("netns", "add", ns.name)
        _ip("link", "add", links[0], "type", "veth", "peer", "name", links[1])
        for ns, link in zip(spaces, links):
            _ip("link", "set", link, "netns", ns.name)
            _ip("-n", ns.name, "addr", "add", f"{ns.address}/24", "dev", link)
            _ip("-n", ns.name, "link", "set", link, "up")
            _ip("-n", ns.name, "link", "set", "lo", "up")
            _ip("-n", ns.name, "route", "add", "224.0.0.0/4", "dev", link)
        yield spaces
    finally:
        for ns in spaces:
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, timeout=10)


class Peer:
    """A `python -m support.<module>` process inside a namespace, speaking JSON lines."""

    def __init__(self, ns: Namespace, module: str, *args: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, sys.executable, "-m", module, *args],
            cwd=ROOT / "tests",
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        SPAWNED.append(self.proc)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, name="netns-peer-reader", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, event: str, timeout: float = 15.0) -> dict[str, Any]:
        """The next message with this event, skipping others; fail with stderr at the
        deadline or when the process ends."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                line = None
            if line is None:
                self.proc.kill()
                _, err = self.proc.communicate(timeout=10)
                raise AssertionError(f"no {event!r} from the peer; its stderr:\n{err[-3000:]}")
            message = json.loads(line)
            if message.get("event") == event:
                return message

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait(timeout=10)
