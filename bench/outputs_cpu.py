"""CPU of the outputs of one encode, measured against RTSP alone in the same run.

    python bench/outputs_cpu.py                       # RTSP vs RTSP+RTMP+recording (+publish)
    python bench/outputs_cpu.py --scaling 1 4 8 16    # viewers: on the board vs via nginx-rtmp

Each configuration runs the real CLI (test pattern) as its own process; its CPU is read with
psutil over `--seconds` after a settle time, configurations interleaved `--repeats` times and
the median kept. The RTMP peer is nginx with libnginx-mod-rtmp on a loopback port; viewers are
copy-only ffmpeg clients (their own CPU is not counted: on a real deployment they are other
machines). Prints one line per configuration and the ratios against RTSP alone.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.servers import free_port, wait_port  # noqa: E402

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


def start_nginx(root: Path, port: int) -> subprocess.Popen:
    (root / "logs").mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(
        f"load_module {RTMP_MODULE};\ndaemon off;\nmaster_process off;\n"
        f"worker_processes 1;\nerror_log {root}/logs/error.log;\npid {root}/nginx.pid;\n"
        "events { worker_connections 1024; }\n"
        f"rtmp {{ server {{ listen 127.0.0.1:{port}; chunk_size 4096;\n"
        "  application live { live on; record off; } } }\n"
    )
    proc = subprocess.Popen(
        [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(root), "-c", str(conf)]
        + ["-e", "logs/error.log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not wait_port(port, proc, time.monotonic() + 20):
        proc.kill()
        raise RuntimeError(f"nginx did not listen on port {port}: see {root}/logs/error.log")
    return proc


def viewer(url: str) -> subprocess.Popen:
    transport = ["-rtsp_transport", "tcp"] if url.startswith("rtsp") else []
    return subprocess.Popen(
        ["ffmpeg", "-v", "quiet", *transport, "-i", url, "-c", "copy", "-f", "null", "-"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class Run:
    """What one configuration measured: CPU % of the streamer and of the watched pids, and
    from the streamer's stats lines the encoded frame rate and drops during the window."""

    def __init__(self, cpu: float, others: list[float], fps: float, dropped: int) -> None:
        self.cpu, self.others, self.fps, self.dropped = cpu, others, fps, dropped


def _stats(log: Path) -> tuple[float, int, int]:
    """(monotonic-ish read time, encoded, dropped) of the last stats line so far."""
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if "encoded=" in ln]
    if not lines:
        return time.monotonic(), 0, 0
    fields = dict(f.split("=", 1) for f in lines[-1].split() if "=" in f)
    return time.monotonic(), int(fields.get("encoded", 0)), int(fields.get("dropped", 0))


def measure(
    args: argparse.Namespace, extra: list[str], viewers: list[str], watch: list[int]
) -> Run:
    """CPU % of the streamer (and of the `watch` pids) with `extra` flags and viewers."""
    port = free_port()
    cmd = [sys.executable, "-m", "camera_streaming", "--source", "test", "--bind", "127.0.0.1"]
    cmd += ["--port", str(port), "--width", str(args.width), "--height", str(args.height)]
    cmd += ["--fps", str(args.fps), "--stats-interval", "1", "--no-http", *extra]
    log = Path(tempfile.mkstemp(prefix="cs-bench-", suffix=".log")[1])
    with open(log, "w") as err:
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    clients: list[subprocess.Popen] = []
    try:
        if "--rtsp" in extra or not extra:
            if not wait_port(port, server, time.monotonic() + 20):
                raise RuntimeError(f"the streamer did not listen on port {port}: {cmd}")
        else:
            time.sleep(2)
        rtsp_url = f"rtsp://127.0.0.1:{port}/stream"
        for url in viewers:
            clients.append(viewer(url.replace("{rtsp}", rtsp_url)))
        time.sleep(args.settle)
        procs = [psutil.Process(server.pid), *(psutil.Process(p) for p in watch)]
        for p in procs:
            p.cpu_percent(None)
        t0, enc0, drop0 = _stats(log)
        time.sleep(args.seconds)
        cpus = [p.cpu_percent(None) for p in procs]
        t1, enc1, drop1 = _stats(log)
        if server.poll() is not None:
            raise RuntimeError(f"the streamer exited: {cmd}")
        return Run(cpus[0], cpus[1:], (enc1 - enc0) / (t1 - t0), drop1 - drop0)
    finally:
        for c in clients:
            c.kill()
            c.wait()
        server.terminate()
        server.wait(10)
        log.unlink()


def outputs_ratio(args: argparse.Namespace, tmp: Path, nginx_port: int, ng_pid: int) -> None:
    rtmp = f"rtmp://127.0.0.1:{nginx_port}/live/bench"
    configs = {
        "rtsp": ([], ["{rtsp}"] * args.clients),
        "rtsp+rtmp+record": (
            ["--rtsp", "--rtmp", rtmp, "--save", str(tmp / "rec"), "--keep-segments", "3"],
            ["{rtsp}"] * args.clients,
        ),
    }
    results: dict[str, list[float]] = {k: [] for k in configs}
    for _ in range(args.repeats):
        for name, (extra, viewers) in configs.items():
            run = measure(args, extra, viewers, [])
            results[name].append(run.cpu)
            print(
                f"  ({name}: cpu={run.cpu:.1f}% encoded fps={run.fps:.1f} dropped={run.dropped})",
                flush=True,
            )
    base = statistics.median(results["rtsp"])
    print(
        f"{args.width}x{args.height}@{args.fps}, {args.clients} RTSP client(s), median of "
        f"{args.repeats} x {args.seconds:.0f} s, streamer process CPU (100% = one core)"
    )
    for name, values in results.items():
        cpu = statistics.median(values)
        print(f"  {name:<18} cpu={cpu:5.1f}%  ratio={cpu / base:.2f}  runs={values}")


def scaling(args: argparse.Namespace, nginx_port: int, ng_pid: int) -> None:
    rtmp = f"rtmp://127.0.0.1:{nginx_port}/live/scale"
    print(
        f"{args.width}x{args.height}@{args.fps}: viewers on the board (RTSP) vs through "
        "nginx-rtmp (board pushes once); CPU % of one core"
    )
    for n in args.scaling:
        a = measure(args, [], ["{rtsp}"] * n, [])
        b = measure(args, ["--rtmp", rtmp], [rtmp] * n, [ng_pid])
        print(
            f"  viewers={n:<3} board alone: cpu={a.cpu:5.1f}% fps={a.fps:4.1f} "
            f"dropped={a.dropped:<4} | via nginx: board cpu={b.cpu:5.1f}% fps={b.fps:4.1f} "
            f"dropped={b.dropped:<4} nginx cpu={b.others[0]:4.1f}%",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--settle", type=float, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--scaling", type=int, nargs="*", help="viewer counts to compare")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cs-bench-") as d:
        tmp = Path(d)
        nginx_port = free_port()
        nginx = start_nginx(tmp / "nginx", nginx_port)
        try:
            if args.scaling:
                scaling(args, nginx_port, nginx.pid)
            else:
                outputs_ratio(args, tmp, nginx_port, nginx.pid)
        finally:
            nginx.kill()
            nginx.wait()


if __name__ == "__main__":
    main()
