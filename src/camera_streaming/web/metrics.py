"""What the HTTP side reports: the Prometheus collector over one `Snapshot` per scrape, the
`/api/status` document and the health verdict."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..telemetry.stats import OutputStatus, Snapshot

if TYPE_CHECKING:
    from .http import StatusSource

NS = "camera_streaming"


class SnapshotCollector:
    """Prometheus collector reading one `Snapshot` per scrape: no per-frame cost."""

    def __init__(self, source: StatusSource) -> None:
        self.source = source

    def describe(self) -> list[Metric]:
        return []  # unchecked collector: metrics are only computed on scrape

    def collect(self) -> Iterator[Metric]:
        s = self.source.snapshot()
        info = self.source.describe()

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"{NS}_{name}", doc, value=value)

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{NS}_{name}", doc, value=value)

        yield counter("frames", "Frames offered by the source or the API", s.frames)
        yield counter("encoded_frames", "Access units out of the encoder", s.encoded)
        yield counter("keyframes", "Keyframes out of the encoder", s.keyframes)
        yield counter("idle_frames", "Frames not encoded because nobody watched", s.idle_frames)
        yield counter("dropped_frames", "Frames/access units dropped (encoder behind, "
                      "client queues full)", s.dropped)  # fmt: skip
        yield gauge("fps", "Frames per second over the last second", s.fps)
        yield gauge("clients", "RTSP connections open", s.clients)
        yield gauge("mse_viewers", "Browsers watching over MSE (WebSocket)", s.mse_viewers)
        yield gauge("sessions", "RTSP sessions", s.sessions)
        yield counter("bytes_sent", "Encoded bytes handed to RTSP clients", s.bytes_sent)
        yield gauge("rss_bytes", "Resident set size", s.rss_bytes)
        if s.heap_bytes is not None:
            yield gauge("allocator_in_use_bytes", "malloc in-use bytes (mallinfo2); RSS minus "
                        "this is mostly allocator free lists", s.heap_bytes)  # fmt: skip
        yield counter("hook_seconds", "Time spent in the user hook", s.hook_seconds)
        yield counter("hook_errors", "Exceptions raised by the user hook", s.hook_errors)
        yield counter("source_restarts", "Times the source was re-opened", s.source_restarts)
        yield gauge("uptime_seconds", "Seconds since start", s.uptime_s)
        if s.last_frame_age_s is not None:
            yield gauge("last_frame_age_seconds", "Seconds since the last frame",
                        s.last_frame_age_s)  # fmt: skip
        enc = GaugeMetricFamily(f"{NS}_encoder_info", "The encoder in use",
                                labels=["encoder", "codec"])  # fmt: skip
        enc.add_metric([s.encoder or "none", str(info.get("codec", ""))], 1)
        yield enc
        yield from per_camera(s)
        yield from per_output(s)


def _family(kind: type, name: str, doc: str, labels: list[str]) -> Any:
    return kind(f"{NS}_{name}", doc, labels=labels)


def per_camera(s: Snapshot) -> Iterator[Metric]:
    """The figures of each camera (label `camera`) and stream (labels `camera`, `stream`)."""
    cam = ["camera"]
    frames = _family(CounterMetricFamily, "camera_frames", "Frames captured", cam)
    fps = _family(GaugeMetricFamily, "camera_fps", "Frames captured per second", cam)
    unwatched = "Frames not processed because no stream of the camera was watched"
    idle = _family(CounterMetricFamily, "camera_idle_frames", unwatched, cam)
    hook = _family(CounterMetricFamily, "camera_hook_seconds", "Time in the user hook", cam)
    lost = _family(CounterMetricFamily, "camera_source_lost", "Times the source was lost", cam)
    st = ["camera", "stream"]
    info = _family(GaugeMetricFamily, "stream_info", "A stream's size, rate, codec and encoder",
                   [*st, "video", "codec", "encoder"])  # fmt: skip
    s_fps = _family(GaugeMetricFamily, "stream_fps", "Frames a second into the encoder", st)
    encoded = _family(CounterMetricFamily, "stream_encoded_frames", "Access units out", st)
    keys = _family(CounterMetricFamily, "stream_keyframes", "Keyframes out", st)
    behind = "Frames/access units dropped (encoder behind, client queues full)"
    dropped = _family(CounterMetricFamily, "stream_dropped_frames", behind, st)
    clients = _family(GaugeMetricFamily, "stream_clients", "RTSP clients playing", st)
    sent = _family(CounterMetricFamily, "stream_bytes_sent", "Bytes handed to RTSP clients", st)
    vk = [*st, "kind"]  # kind="mse" (fMP4 over a WebSocket) or "webrtc" (WHEP)
    viewers = _family(GaugeMetricFamily, "stream_viewers", "Browser viewers now, by kind", vk)
    joined = _family(CounterMetricFamily, "stream_viewers_joined", "Browsers that joined", vk)
    left = _family(CounterMetricFamily, "stream_viewers_left", "Browsers that left", vk)
    v_drop = _family(CounterMetricFamily, "stream_viewer_dropped_fragments",
                     "Fragments dropped for browsers that fell behind", vk)  # fmt: skip
    for c in s.cameras:
        frames.add_metric([c.name], c.frames)
        fps.add_metric([c.name], c.fps)
        idle.add_metric([c.name], c.idle_frames)
        hook.add_metric([c.name], c.hook_seconds)
        lost.add_metric([c.name], c.faults.get("source_lost", 0))
        for x in c.streams:
            labels = [c.name, x.path]
            info.add_metric([*labels, x.video, x.codec, x.encoder or "none"], 1)
            s_fps.add_metric(labels, x.fps)
            encoded.add_metric(labels, x.encoded)
            keys.add_metric(labels, x.keyframes)
            dropped.add_metric(labels, x.dropped)
            clients.add_metric(labels, x.clients)
            sent.add_metric(labels, x.bytes_sent)
            mse = [*labels, "mse"]
            viewers.add_metric(mse, x.mse_viewers)
            joined.add_metric(mse, x.mse_joined)
            left.add_metric(mse, x.mse_left)
            v_drop.add_metric(mse, x.mse_dropped)
            rtc = [*labels, "webrtc"]
            viewers.add_metric(rtc, x.webrtc_viewers)
            joined.add_metric(rtc, x.webrtc_joined)
            left.add_metric(rtc, x.webrtc_left)
    yield from (frames, fps, idle, hook, lost, info, s_fps, encoded, keys, dropped, clients, sent)
    yield from (viewers, joined, left, v_drop)


def per_output(s: Snapshot) -> Iterator[Metric]:
    """Each stream's outputs (labels `camera`, `stream`, `output`)."""
    labels = ["camera", "stream", "output"]
    up = _family(GaugeMetricFamily, "output_up", "1 when an output is connected", labels)
    sent = _family(CounterMetricFamily, "output_bytes", "Bytes handed to an output", labels)
    errors = _family(CounterMetricFamily, "output_errors", "Errors of an output", labels)
    restarts = _family(CounterMetricFamily, "output_reconnects", "Reconnects of an output",
                       labels)  # fmt: skip
    for camera, stream, o in _outputs(s):
        key = [camera, stream, o.name]
        up.add_metric(key, 1 if o.connected else 0)
        sent.add_metric(key, o.bytes)
        errors.add_metric(key, o.errors)
        restarts.add_metric(key, o.reconnects)
    yield from (up, sent, errors, restarts)


def _outputs(s: Snapshot) -> Iterator[tuple[str, str, OutputStatus]]:
    if not s.cameras:  # a snapshot without cameras: its flat list of outputs
        yield from (("", "", o) for o in s.outputs)
        return
    for c in s.cameras:
        for x in c.streams:
            yield from ((c.name, x.path, o) for o in x.outputs)


def status_json(source: StatusSource, health_timeout_s: float) -> dict[str, Any]:
    s = source.snapshot()
    return {
        **source.describe(),
        "healthy": healthy(s, health_timeout_s),
        "stats": asdict(s),
        "memory": source.memory_history(),
    }


def healthy(s: Snapshot, timeout_s: float) -> bool:
    return s.last_frame_age_s is not None and s.last_frame_age_s < timeout_s
