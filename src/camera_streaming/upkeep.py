"""The one periodic loop of the process, in thread `upkeep`: the stats lines, the memory
history for the status page, each camera's upkeep (encoder stall checks, the `gst:` gates and
frame counts), `malloc_trim`, and systemd's watchdog and status line. One wake-up a second at
most; nothing here runs per frame or per client."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from .telemetry.stats import malloc_trim

if TYPE_CHECKING:
    from .service import Streamer

log = logging.getLogger("camera_streaming.service")

# Seconds between malloc_trim(0) calls; 0 disables (CAMERA_STREAMING_MALLOC_TRIM_S, for
# measuring the allocator policy: docs/memory.md).
TRIM_INTERVAL_S = float(os.environ.get("CAMERA_STREAMING_MALLOC_TRIM_S", "30"))
STATUS_INTERVAL_S = 10.0  # systemd STATUS= line


class Upkeep:
    def __init__(self, streamer: Streamer, log_stats: bool) -> None:
        self.streamer = streamer
        self.log_stats = log_stats
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="upkeep", daemon=True)
        self._thread.start()

    def stop(self, deadline: float) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        s = self.streamer
        notifier = s.notifier
        stats_s = s.config.stats_interval_s
        watchdog_s = notifier.watchdog_s
        period = min(1.0, stats_s, watchdog_s / 3 if watchdog_s else 1.0)
        stale_s = min(s.config.http.health_timeout_s, watchdog_s or 1e9)
        now = time.monotonic()
        next_stats, next_status, next_trim = now + stats_s, 0.0, now + TRIM_INTERVAL_S
        s.memory.maybe_sample()
        while not self._stop.wait(max(0.0, min(period, next_stats - time.monotonic()))):
            now = time.monotonic()
            s.memory.maybe_sample()
            for camera in s.cameras:
                camera.tick(now)
            if self.log_stats and now >= next_stats - 0.005:
                next_stats = max(next_stats + stats_s, now + stats_s / 2)
                for line in s.snapshot().lines():
                    log.info("%s", line)
            if TRIM_INTERVAL_S > 0 and now >= next_trim:
                # Hand glibc's free lists back to the kernel so RSS tracks what is in use
                # (fragmentation, not leaks, is what grows RSS here: docs/gstreamer.md, fact 16),
                # and the frames a load spike added to an encoder's pool.
                for camera in s.cameras:
                    camera.trim_pools()
                malloc_trim()
                next_trim = now + TRIM_INTERVAL_S
            last = max((c.last_frame_at for c in s.cameras), default=0.0)
            if watchdog_s and last and now - last < stale_s:
                notifier.watchdog()  # fed only while frames flow: a stuck process is restarted
            if notifier.enabled and now >= next_status:  # what `systemctl status` shows
                next_status = now + STATUS_INTERVAL_S
                snap = s.snapshot()
                notifier.status(
                    f"{snap.fps:.1f} fps, {snap.clients} client(s), {snap.encoder}, "
                    f"RSS {snap.rss_bytes / 1e6:.0f} MB"
                )
            if not self.log_stats:
                next_stats = now + stats_s
