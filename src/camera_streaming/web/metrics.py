"""What the HTTP side reports: the Prometheus collector over one `Snapshot` per scrape, the
`/api/status` document and the health verdict."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..telemetry.stats import Snapshot

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
        up = GaugeMetricFamily(f"{NS}_output_up", "1 when an output is connected",
                               labels=["output"])  # fmt: skip
        sent = CounterMetricFamily(f"{NS}_output_bytes", "Bytes handed to an output",
                                   labels=["output"])  # fmt: skip
        errors = CounterMetricFamily(f"{NS}_output_errors", "Errors of an output",
                                     labels=["output"])  # fmt: skip
        restarts = CounterMetricFamily(f"{NS}_output_reconnects", "Reconnects of an output",
                                       labels=["output"])  # fmt: skip
        for o in s.outputs:
            up.add_metric([o.name], 1 if o.connected else 0)
            sent.add_metric([o.name], o.bytes)
            errors.add_metric([o.name], o.errors)
            restarts.add_metric([o.name], o.reconnects)
        yield from (up, sent, errors, restarts)


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
