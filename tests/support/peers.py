"""Real servers our outputs talk to, started by the tests on loopback ports: nginx with Debian's
RTMP module, and an RTSP server that accepts RECORD (camera_streaming.testing.record_server).
Plus ffprobe helpers for files and streams."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.env import require_tool

RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


def wait_port(port: int, timeout: float = 10.0, up: bool = True) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if (s.connect_ex(("127.0.0.1", port)) == 0) == up:
                return True
        time.sleep(0.05)
    return False


class NginxRtmp:
    """nginx in the foreground (`daemon off`, one process) with an RTMP `live` application on
    127.0.0.1:port; its prefix, config and logs live in `root`."""

    def __init__(self, root: Path, port: int) -> None:
        # /usr/sbin may be missing from a non-root PATH.
        sbin = Path("/usr/sbin/nginx")
        self.nginx = str(sbin) if sbin.exists() else require_tool("nginx")
        if not RTMP_MODULE.exists():
            pytest.fail("libnginx-mod-rtmp is not installed: run 'make setup-dev'")
        self.root, self.port = root, port
        (root / "logs").mkdir(parents=True, exist_ok=True)
        self.conf = root / "nginx.conf"
        self.conf.write_text(
            f"load_module {RTMP_MODULE};\n"
            "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            f"error_log {root}/logs/error.log info;\npid {root}/nginx.pid;\n"
            "events { worker_connections 128; }\n"
            "rtmp { server { listen 127.0.0.1:%d; chunk_size 4096;\n"
            "  application live { live on; record off; } } }\n" % port
        )
        self.proc: subprocess.Popen | None = None

    def url(self, stream: str = "cam") -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{stream}"

    def start(self) -> float:
        """Start nginx; returns the monotonic time it was accepting connections."""
        self.proc = subprocess.Popen(
            [self.nginx, "-p", str(self.root), "-c", str(self.conf), "-e", "logs/error.log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_port(self.port, 10):
            self.stop()
            raise AssertionError("nginx did not start")
        return time.monotonic()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()  # as abrupt as a crashed or rebooted server
            proc.wait(10)

    def __enter__(self) -> NginxRtmp:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RecordServer:
    """camera_streaming.testing.record_server in its own process, writing to `out`."""

    def __init__(self, port: int, out: Path, path: str = "/cam") -> None:
        self.port, self.out, self.path = port, out, path
        self.proc: subprocess.Popen | None = None

    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def __enter__(self) -> RecordServer:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "camera_streaming.testing.record_server",
                "--port",
                str(self.port),
                "--path",
                self.path,
                "--out",
                str(self.out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_port(self.port, 15):
            self.__exit__()
            raise AssertionError("record server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def probe_stream(target: str, timeout: float = 15) -> dict:
    """ffprobe's first video stream of a file or URL."""
    transport = ["-rtsp_transport", "tcp"] if target.startswith("rtsp://") else []
    out = subprocess.run(
        ["ffprobe", "-v", "error", *transport, "-select_streams", "v:0", "-show_streams"]
        + ["-of", "json", target],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr
    streams = json.loads(out.stdout)["streams"]
    assert streams, out.stderr
    return dict(streams[0])


def probe_span(path: Path) -> tuple[float, int]:
    """(last - first packet timestamp in seconds, packets) of a file's video stream, read
    packet by packet: it does not rely on a duration field a killed writer never wrote."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries"]
        + ["packet=pts_time", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    times = [float(t) for t in out.stdout.split() if t.strip() and t != "N/A"]
    assert times, f"no packets in {path}: {out.stderr}"
    return max(times) - min(times), len(times)


def decodable_frames(path: Path) -> int:
    """Frames ffmpeg decodes from the file, errors counted as failures by the caller."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0"]
        + ["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().split(",")[0])
