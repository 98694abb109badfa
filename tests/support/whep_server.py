"""A camera-streaming server in its own process for the WHEP churn test, so that what is
measured is the server alone (not pytest, not the peers), run as the CLI runs it: GSlice on
malloc and at most two malloc arenas, set before GLib loads and any thread starts.

    python tests/support/whep_server.py '{"timeout_s": 3}'

prints `{"http": PORT}` once serving, then answers each line on stdin with one JSON line:
`reading` -> fds, threads, rss and heap (allocator in-use) bytes after `gc.collect()` and
`malloc_trim(0)`, and the WebRTC viewers (now, pending, joined, left, dropped); `stop` stops
the server and exits.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    from camera_streaming.telemetry.memory import limit_arenas, slices_on_malloc

    slices_on_malloc()  # before GLib loads, as the CLI does
    limit_arenas(2)  # before any thread, as the CLI does
    import psutil

    from camera_streaming.service import Streamer
    from camera_streaming.telemetry.stats import allocator_in_use, malloc_trim, rss_bytes
    from support.whep import whep_config

    streamer = Streamer(whep_config(**json.loads(sys.argv[1])), log_stats=False)
    streamer.start()
    proc = psutil.Process()
    assert streamer.http is not None and streamer.whep is not None
    print(json.dumps({"http": streamer.http.port}), flush=True)
    try:
        for line in sys.stdin:
            if line.strip() != "reading":
                break
            gc.collect()
            malloc_trim()
            whep = streamer.whep
            feed = next(iter(whep.feeds.values()))
            print(json.dumps({
                "fds": proc.num_fds(), "threads": proc.num_threads(), "rss": rss_bytes(),
                "heap": allocator_in_use(), "viewers": whep.viewers, "pending": whep._pending,
                "joined": feed.joined, "left": feed.left, "dropped": feed.dropped_viewers,
            }), flush=True)  # fmt: skip
    finally:
        streamer.stop()


if __name__ == "__main__":
    main()
