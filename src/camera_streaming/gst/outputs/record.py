"""Recording: the one encode written to disk in Matroska segments, no second encoder.

`appsrc ! h264parse ! splitmuxsink muxer=matroskamux` (h265parse with `--codec h265`:
Matroska takes both): a new file every `segment_s` (at the next keyframe), named
`rec-YYYYmmdd-HHMMSS.mmm-NNNNN.mkv` so names sort by time and a restart never overwrites.
Matroska is written front to back, so a file cut short by `kill -9` or a power cut is still
readable up to its last cluster; a clean stop (EOS) also writes its index.
Retention (`keep_segments`, `keep_bytes`) removes the oldest closed files of ours.

A write error (disk full, directory gone) is logged once, counted, and the recorder tries again
with backoff; RTSP and the other outputs do not notice.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...backoff import OUTPUT_BACKOFF, Backoff
from ...config.model import OutputsConfig, VideoConfig
from ...errors import ConfigError
from ...telemetry.stats import OutputStatus
from ..encoder import H264Encoder
from ..launch import record_launch
from .base import EncodedOutput

log = logging.getLogger(__name__)

PREFIX = "rec-"
SUFFIX = ".mkv"
RETENTION_EVERY_S = 1.0  # also on every closed segment


def check_dir(path: str) -> Path:
    """Create `path` if needed and prove a file can be written there; `ConfigError` if not."""
    d = Path(path)
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".camera-streaming-write-test-{os.getpid()}"
        with open(probe, "wb") as f:
            f.write(b"x")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise ConfigError("--save", f"cannot write to {path} ({reason})") from None
    return d


def segment_files(directory: Path) -> list[Path]:
    """Our segment files in `directory`, oldest first (names sort by start time)."""
    try:
        names = sorted(
            n for n in os.listdir(directory) if n.startswith(PREFIX) and n.endswith(SUFFIX)
        )
    except OSError:
        return []
    return [directory / n for n in names]


def plan_retention(sizes: list[int], keep_segments: int, keep_bytes: int) -> int:
    """How many of the oldest files (sizes oldest first, the open one last) to remove so that
    at most `keep_segments` files and `keep_bytes` bytes remain. The open file is never
    removed. 0 limits mean no limit."""
    n = len(sizes)
    remove = 0
    if keep_segments:
        remove = max(0, n - keep_segments)
    if keep_bytes:
        total = sum(sizes[remove:])
        while remove < n - 1 and total > keep_bytes:
            total -= sizes[remove]
            remove += 1
    return min(remove, max(0, n - 1))


class Recorder(EncodedOutput):
    kind = "record"

    def __init__(
        self,
        outputs: OutputsConfig,
        video: VideoConfig,
        encoder: H264Encoder,
        backoff: Backoff = OUTPUT_BACKOFF,
    ) -> None:
        assert outputs.save_dir is not None
        super().__init__("record", outputs.save_dir, video, encoder, backoff)
        self.cfg = outputs
        self.directory = Path(outputs.save_dir)
        self.files = 0
        self.deleted = 0
        self.current: str = ""
        self._retention_at = 0.0

    def start(self) -> None:
        check_dir(str(self.directory))
        super().start()

    def launch(self) -> str:
        now = time.time()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        name = f"{PREFIX}{stamp}.{int(now * 1000) % 1000:03d}-%05d{SUFFIX}"
        return record_launch(self.video, str(self.directory / name), self.cfg.segment_s)

    def configure(self, pipeline: Any) -> None:
        self.apply_retention()

    def on_element_message(self, message: Any) -> None:
        s = message.get_structure()
        if s is None:
            return
        name = s.get_name()
        if name == "splitmuxsink-fragment-opened":
            self.current = s.get_string("location") or ""
        elif name == "splitmuxsink-fragment-closed":
            self.files += 1
            self.apply_retention()

    def on_tick(self) -> None:
        now = time.monotonic()
        if now - self._retention_at >= RETENTION_EVERY_S:
            self._retention_at = now
            self.apply_retention()

    def stop(self, timeout: float = 3.0) -> None:
        super().stop(timeout)
        self.current = ""
        self.apply_retention()  # the last segment was closed by the EOS

    def apply_retention(self) -> None:
        if not (self.cfg.keep_segments or self.cfg.keep_bytes):
            return
        files = segment_files(self.directory)
        sizes = []
        for f in files:
            try:
                sizes.append(f.stat().st_size)
            except OSError:
                sizes.append(0)
        # The newest file may be the open one; plan_retention never removes the last.
        for f in files[: plan_retention(sizes, self.cfg.keep_segments, self.cfg.keep_bytes)]:
            if str(f) == self.current:
                continue
            try:
                f.unlink()
                self.deleted += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.debug("retention: cannot remove %s: %s", f, exc)

    def status(self) -> OutputStatus:
        return replace(super().status(), files=self.files, deleted=self.deleted)
