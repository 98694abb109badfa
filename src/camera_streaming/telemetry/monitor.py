"""`camera-streaming monitor PID`: the C++ original's monitor_memory.sh as a command.

One row per interval (time, RSS MB, VSZ MB, CPU %) until the process exits; optionally a
CSV file and a PNG plot (the plot needs matplotlib: `pip install camera-streaming[plot]`).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from typing import NoReturn

import psutil

from .memory import ProcessWatcher

COLUMNS = ("time_s", "rss_mb", "vsz_mb", "cpu_percent")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"camera-streaming monitor: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="camera-streaming monitor",
        description="Print RSS, VSZ and CPU of a process every interval until it exits.",
    )
    p.add_argument("pid", type=int)
    p.add_argument("--interval", type=float, default=1.0, metavar="SECONDS")
    p.add_argument("--csv", metavar="FILE", help="also write the rows to FILE")
    p.add_argument("--plot", metavar="FILE", help="write a PNG plot when the process exits")
    p.add_argument(
        "--duration",
        type=float,
        default=0,
        metavar="SECONDS",
        help="stop after this long even if the process lives on (0: until it exits)",
    )
    return p


def plot_rows(rows: list[tuple[float, ...]], path: str, title: str) -> None:
    """RSS and VSZ over time (MB) and CPU % on a second axis."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit(
            "camera-streaming monitor: error: --plot needs matplotlib: "
            "pip install 'camera-streaming[plot]'"
        ) from None
    t = [r[0] / 60 for r in rows]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(t, [r[1] for r in rows], label="RSS MB")
    ax.set_xlabel("minutes")
    ax.set_ylabel("MB")
    ax2 = ax.twinx()
    ax2.plot(t, [r[3] for r in rows], color="tab:gray", alpha=0.5, label="CPU %")
    ax2.set_ylabel("CPU %")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.interval <= 0:
        build_parser().error("--interval must be positive")
    try:
        watcher = ProcessWatcher(args.pid)
    except psutil.Error:
        sys.stderr.write(f"camera-streaming monitor: error: no process {args.pid}\n")
        return 2
    out = open(args.csv, "w", newline="") if args.csv else None  # noqa: SIM115
    writer = csv.writer(out) if out else None
    if writer:
        writer.writerow(COLUMNS)
    rows: list[tuple[float, ...]] = []
    t0 = time.monotonic()
    print(f"{'time':>8} {'rss_mb':>9} {'vsz_mb':>9} {'cpu_%':>7}", flush=True)
    try:
        while True:
            try:
                s = watcher.sample()
            except psutil.Error:
                break  # the process exited
            row = (
                round(time.monotonic() - t0, 1),
                round(s.rss_mb, 2),
                round(s.vsz_mb, 2),
                round(s.cpu_percent, 1),
            )
            rows.append(row)
            print(f"{row[0]:8.1f} {row[1]:9.2f} {row[2]:9.2f} {row[3]:7.1f}", flush=True)
            if writer and out:
                writer.writerow(row)
                out.flush()
            if args.duration and row[0] >= args.duration:
                break
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        if out:
            out.close()
    if args.plot and rows:
        plot_rows(rows, args.plot, f"process {args.pid}")
    return 0
