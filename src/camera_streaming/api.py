"""The Python API: stream your own NumPy frames over RTSP.

with RtspStreamer(width=1280, height=720, fps=30) as streamer:
    while streamer.is_running:
        streamer.push_frame(frame)      # BGR uint8; other sizes are resized
"""

from __future__ import annotations

import numpy as np

from .config.model import Config, HttpConfig, OutputsConfig, RtspConfig, SourceSpec, VideoConfig
from .frames.processor import FrameHook
from .service import Streamer
from .telemetry.stats import Snapshot


class RtspStreamer:
    """Mirrors the C++ original's `RtspStreamer`: `start()`, `stop()`, `push_frame()`,
    `is_running`, `has_client`, `url`; also a context manager."""

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        fps: int = 25,
        bitrate_kbps: int = 2000,
        port: int = 8554,
        path: str = "/stream",
        bind: str = "0.0.0.0",
        keyframe_interval_s: float = 1.0,
        max_clients: int = 0,
        hook: FrameHook | None = None,
        stats_interval_s: float = 0,
        http_port: int = 0,
        overlay: bool = False,
        encoder: str = "auto",
        notify_systemd: bool = False,
        outputs: OutputsConfig | None = None,
        rtsp: bool = True,
        config: Config | None = None,
    ) -> None:
        """`http_port`: serve /metrics, /healthz, /api/status, /snapshot.jpg and the status
        page there (0, the default for the API: no HTTP port). `overlay`: draw time, frame
        index and FPS. `encoder`: auto or an element name (see `--list-encoders`).
        `notify_systemd`: send READY=1/WATCHDOG=1 to systemd (off: your program may do its own).
        `config`: a whole configuration instead of the arguments above (e.g. several cameras
        or a sub stream); `push_frame()` then feeds its first camera, whose source should be
        `SourceSpec("api")` (cameras with their own sources capture by themselves)."""
        self.config = config or Config(
            video=VideoConfig(
                width=width,
                height=height,
                fps=fps,
                bitrate_kbps=bitrate_kbps,
                keyframe_interval_s=keyframe_interval_s,
                encoder=encoder,
            ),
            rtsp=RtspConfig(enabled=rtsp, port=port, path=path, bind=bind, max_clients=max_clients),
            outputs=outputs or OutputsConfig(),
            source=SourceSpec("api"),
            stats_interval_s=stats_interval_s or 1.0,
            http=HttpConfig(enabled=bool(http_port), port=http_port, bind=bind),
            overlay=overlay,
        )
        self._hook = hook
        self._notify_systemd = notify_systemd
        self._log_stats = bool(stats_interval_s)
        self._streamer: Streamer | None = None

    def start(self) -> None:
        """Start the RTSP server; raises `CameraStreamingError` (e.g. port busy)."""
        if self._streamer is not None:
            return
        streamer = Streamer(
            self.config,
            hook=self._hook,
            log_stats=self._log_stats,
            notify_systemd=self._notify_systemd,
        )
        streamer.start()
        self._streamer = streamer

    def stop(self) -> None:
        streamer, self._streamer = self._streamer, None
        if streamer is not None:
            streamer.stop()

    def push_frame(self, frame: np.ndarray) -> bool:
        """Queue one BGR frame. False when not running or the encoder is behind (counted)."""
        streamer = self._streamer
        return streamer.push_frame(frame) if streamer is not None else False

    @property
    def is_running(self) -> bool:
        return self._streamer is not None and self._streamer.is_running

    @property
    def has_client(self) -> bool:
        """True while at least one client is playing the stream."""
        s = self._streamer
        return bool(s is not None and s.rtsp is not None and s.rtsp.live_feeds > 0)

    @property
    def url(self) -> str:
        """The first stream's URL."""
        return self.config.rtsp.url(path=self.config.all_streams[0].path)

    def stats(self) -> Snapshot | None:
        """Figures now, with `outputs`: one `OutputStatus` per RTMP/recording/publish output."""
        return self._streamer.snapshot() if self._streamer is not None else None

    def __enter__(self) -> RtspStreamer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
