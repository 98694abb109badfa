"""The soak harness: a client population churning against a server while figures are
sampled (the judging and the plot are in `soak_report.py`).

Used by `bench/soak.py` (long runs, CSV + PNG), `tests/soak/` (make soak) and the short
CI version in `tests/integration/test_memory.py`.
"""

from __future__ import annotations

import csv
import glob
import itertools
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Callable

import psutil

from .clients import MIX

FIELDS = (
    "t_s",
    "sessions_done",
    "rss_mb",
    "heap_mb",
    "fds",
    "threads",
    "rtsp_sessions",
    "clients",
    "medias",
    "connected",
    "closed",
    "fps",
    "errors",
)

Figures = Callable[[], dict]


class ServerProcess:
    """The real CLI in a subprocess; its stats lines are parsed as they come."""

    STAT = re.compile(r"(\w+)=([\d.]+)")

    def __init__(
        self,
        port: int,
        width: int,
        height: int,
        fps: int,
        session_timeout: int = 5,
        extra_env: dict | None = None,
        extra_args: Iterable[str] = (),
    ) -> None:
        import os

        self.url = f"rtsp://127.0.0.1:{port}/stream"
        cmd = [
            sys.executable,
            "-m",
            "camera_streaming",
            "--source",
            "test",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--width",
            str(width),
            "--height",
            str(height),
            "--fps",
            str(fps),
            "--session-timeout",
            str(session_timeout),
            "--no-http",  # several soak servers may run at once; figures come from stats
            "--stats-interval",
            "1",
            *extra_args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(extra_env or {})},
        )
        self.ps = psutil.Process(self.proc.pid)
        self.latest: dict[str, float] = {}
        self.latest_at = 0.0  # monotonic time of the last stats line
        self.stderr_tail: list[str] = []
        self._reader = threading.Thread(target=self._read, name="soak-stderr", daemon=True)
        self._reader.start()
        self._wait_ready(port)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if "frames=" in line and "rss=" in line:
                self.latest = {k: float(v) for k, v in self.STAT.findall(line)}
                self.latest_at = time.monotonic()
            else:
                self.stderr_tail = (self.stderr_tail + [line.rstrip()])[-2000:]

    def _wait_ready(self, port: int, timeout: float = 30) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.stderr_tail[-5:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def rss_mb(self) -> float:
        return float(self.ps.memory_info().rss) / 1e6

    def figures(self) -> dict:
        """Process figures now plus the last stats line; raises if stats lines stopped
        (a harness that reads nothing must not pass)."""
        if time.monotonic() - self.latest_at > 5:
            raise RuntimeError(f"no stats line from the server for 5 s: {self.stderr_tail[-3:]}")
        with self.ps.oneshot():
            rss = self.rss_mb()
            fds, threads = self.ps.num_fds(), self.ps.num_threads()
        s = self.latest
        return {
            "rss_mb": rss,
            "heap_mb": s.get("heap", 0.0),
            "fds": fds,
            "threads": threads,
            "rtsp_sessions": s.get("sessions", 0),
            "clients": s.get("clients", 0),
            "medias": s.get("medias", 0),
            "connected": s.get("connected", 0),
            "closed": s.get("closed", 0),
            "fps": s.get("fps", 0.0),
        }

    def stop(self, timeout: float = 10) -> int:
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        return int(self.proc.returncode)


@dataclass
class Churn:
    """Runs client sessions from `mix` round-robin on `concurrency` threads."""

    url: str
    mix: list[str]
    concurrency: int = 4
    interval_s: float = 0.0  # pause between sessions per worker (0: back to back)
    done: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds = itertools.cycle(self.mix)
        self._stop = threading.Event()
        self._budget = 0
        self._threads: list[threading.Thread] = []

    def run(self, sessions: int, deadline: float | None = None) -> None:
        """Run `sessions` more sessions (or until `deadline`, monotonic), then return."""
        self._budget = sessions
        self._stop.clear()
        self._deadline = deadline
        self._threads = [
            threading.Thread(target=self._worker, name=f"churn-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for t in self._threads:
            t.start()
        for t in self._threads:
            t.join()

    def stop(self) -> None:
        self._stop.set()

    def _take(self) -> str | None:
        with self._lock:
            if self._stop.is_set() or self._budget <= 0:
                return None
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return None
            self._budget -= 1
            return next(self._kinds)

    def _worker(self) -> None:
        while True:
            kind = self._take()
            if kind is None:
                return
            try:
                MIX[kind](self.url)
            except Exception as exc:  # a failed client is data for the report, not a crash
                with self._lock:
                    self.errors.append((kind, repr(exc)[:200]))
            with self._lock:
                self.done += 1
                self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if self.interval_s and self._stop.wait(self.interval_s):
                return


RSS_READ_S = 1.0  # how often `Sampler` reads RSS between rows


class Sampler:
    """Samples figures every `interval_s` into rows (and a CSV file when given).

    With `rss` (a callable returning RSS in MB) the row's `rss_mb` is the median of readings
    taken every second over the interval, not one reading at the row's instant. The server
    trims the allocator every 30 s and RSS dips for a second or two after each trim (~0.3 MB
    at 1080p) while the pages are faulted back; a 30-s sampler drifts in and out of phase with
    that dip, which reads as a step of the dip's size (measured: docs/memory.md)."""

    def __init__(
        self,
        figures: Figures,
        churn: Churn,
        interval_s: float,
        csv_path: str | None = None,
        rss: Callable[[], float] | None = None,
    ) -> None:
        self.figures, self.churn, self.interval_s = figures, churn, interval_s
        self.rss = rss
        self._readings: list[float] = []
        self.rows: list[dict] = []
        self.t0 = time.monotonic()
        self._csv = open(csv_path, "w", newline="") if csv_path else None  # noqa: SIM115
        self._writer = csv.DictWriter(self._csv, FIELDS) if self._csv else None
        if self._writer:
            self._writer.writeheader()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="soak-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def sample(self) -> dict:
        row = {
            "t_s": round(time.monotonic() - self.t0, 1),
            "sessions_done": self.churn.done,
            "errors": len(self.churn.errors),
            **self.figures(),
        }
        readings, self._readings = self._readings, []
        if readings:
            row["rss_mb"] = statistics.median(readings)
        self.rows.append(row)
        if self._writer and self._csv:
            self._writer.writerow({k: row.get(k) for k in FIELDS})
            self._csv.flush()
        return row

    def _loop(self) -> None:
        step = min(RSS_READ_S, self.interval_s) if self.rss is not None else self.interval_s
        due = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, min(step, due - time.monotonic()))):
            if self.rss is not None:
                self._read_rss()
            if time.monotonic() >= due - 1e-3:
                self.sample()
                due += self.interval_s

    def _read_rss(self) -> None:
        try:
            self._readings.append(self.rss())  # type: ignore[misc]
        except (psutil.Error, OSError):
            pass  # the process is exiting: the row keeps figures()' own reading

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.interval_s + 5)
        if self._csv:
            self._csv.close()


POOL_IDLE_S = 16.0  # GLib thread pools stop an idle worker after 15 s (g_thread_pool default)


def thread_names(pid: int) -> Counter[str]:
    """The process's threads by name (`/proc/PID/task/*/comm`), to say which thread a thread
    count difference is."""
    names: Counter[str] = Counter()
    for comm in glob.glob(f"/proc/{pid}/task/*/comm"):
        try:
            with open(comm) as f:
                names[f.read().strip()] += 1
        except OSError:
            continue  # the thread ended while we listed them
    return names


def settled_threads(pid: int, wait_s: float = POOL_IDLE_S) -> Counter[str]:
    """Wait until idle GLib/GStreamer pool threads have had time to retire, then name the
    threads: counts are compared after this wait, not while a finished client's pool worker
    is still parked."""
    time.sleep(wait_s)
    return thread_names(pid)


def idle_medias(fanout: str, watchers: int) -> int:
    """Client medias alive with only `watchers` clients: one per client, or the one anchored
    shared media whatever the number of clients."""
    return 1 if fanout == "shared" else watchers


def wait_idle(figures: Figures, watchers: int, timeout: float, fanout: str = "per-client") -> dict:
    """Wait until only `watchers` clients remain (sessions, clients, medias)."""
    deadline = time.monotonic() + timeout
    medias = idle_medias(fanout, watchers)
    f = figures()
    while time.monotonic() < deadline:
        f = figures()
        if f["rtsp_sessions"] <= watchers and f["clients"] <= watchers and f["medias"] <= medias:
            return f
        time.sleep(0.5)
    return f
