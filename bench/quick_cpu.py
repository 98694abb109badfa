"""Quick figures for one configuration: server CPU % and RSS with N copy-only clients.

python bench/quick_cpu.py --width 1280 --height 720 --fps 30 --clients 1 4
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def measure(server_cmd: list[str], url: str, port: int, clients: int, seconds: float) -> dict:
    server = subprocess.Popen(server_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    viewers = []
    try:
        wait_port(port)
        for _ in range(clients):
            viewers.append(
                subprocess.Popen(
                    [
                        "ffmpeg",
                        "-v",
                        "quiet",
                        "-rtsp_transport",
                        "tcp",
                        "-i",
                        url,
                        "-c",
                        "copy",
                        "-f",
                        "null",
                        "-",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(3)  # settle
        p = psutil.Process(server.pid)
        p.cpu_percent(None)
        time.sleep(seconds)
        cpu = p.cpu_percent(None)
        rss = p.memory_info().rss / 1e6
        return {"clients": clients, "cpu": cpu, "rss_mb": rss}
    finally:
        for v in viewers:
            v.kill()
            v.wait()
        server.terminate()
        server.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    for n in a.clients:
        port = free_port()
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
            str(a.width),
            "--height",
            str(a.height),
            "--fps",
            str(a.fps),
            "--stats-interval",
            "60",
            "--no-http",
        ]
        r = measure(cmd, f"rtsp://127.0.0.1:{port}/stream", port, n, a.seconds)
        print(
            f"{a.width}x{a.height}@{a.fps} clients={n} cpu={r['cpu']:.1f}% rss={r['rss_mb']:.1f}MB"
        )


if __name__ == "__main__":
    main()
