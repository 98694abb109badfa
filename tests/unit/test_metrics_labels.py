"""/metrics families labelled by camera and stream, from one snapshot (no HTTP, no GStreamer)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from camera_streaming.telemetry.stats import (
    CameraSnapshot,
    OutputStatus,
    Snapshot,
    StreamSnapshot,
)
from camera_streaming.web.metrics import per_camera, per_output


def stream(path: str, fps: float, outputs: tuple[OutputStatus, ...] = ()) -> StreamSnapshot:
    return StreamSnapshot(path=path, video="640x360@10 500 kbps", frames=10, fps=fps,
                          encoded=9, keyframes=1, dropped=2, clients=3, medias=3,
                          bytes_sent=1000, encoder="x264enc", outputs=outputs)  # fmt: skip


def snapshot() -> Snapshot:
    rtmp = OutputStatus("rtmp", "rtmp://x/a/b", "connected", bytes=5)
    cams = (
        CameraSnapshot("front", "test", 100, 25.0, 4, 0, 0.5, 0.1,
                       (stream("/front", 25.0), stream("/front/sub", 10.0, (rtmp,)))),
        CameraSnapshot("side", "gst:videotestsrc", 50, 25.0, 0, 0, 0.0, 0.1,
                       (stream("/side", 25.0),), {"source_lost": 1}),
    )  # fmt: skip
    return Snapshot(uptime_s=1, frames=150, fps=50, dropped=0, clients=0, sessions=0,
                    rss_bytes=1, heap_bytes=None, encoded=0, cameras=cams)  # fmt: skip


class Families:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def describe(self) -> list:
        return []

    def collect(self):  # type: ignore[no-untyped-def]
        yield from per_camera(self.snap)
        yield from per_output(self.snap)


def test_camera_and_stream_labels() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families(snapshot()))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    for line in (
        'camera_streaming_camera_frames_total{camera="front"} 100.0',
        'camera_streaming_camera_source_lost_total{camera="side"} 1.0',
        'camera_streaming_stream_fps{camera="front",stream="/front/sub"} 10.0',
        'camera_streaming_stream_clients{camera="side",stream="/side"} 3.0',
        'camera_streaming_stream_info{camera="front",codec="h264",encoder="x264enc",'
        'stream="/front",video="640x360@10 500 kbps"} 1.0',
        'camera_streaming_output_up{camera="front",output="rtmp",stream="/front/sub"} 1.0',
        'camera_streaming_stream_viewers{camera="front",kind="mse",stream="/front"} 0.0',
        'camera_streaming_stream_viewer_dropped_fragments_total{camera="side",kind="mse",'
        'stream="/side"} 0.0',
    ):
        assert line in text, line
