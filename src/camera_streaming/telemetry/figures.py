"""The process's figures as views of one moment: totals, each camera and each stream
(`process_snapshot`), and the static facts (`describe`) that /api/status, the status page and
the stats lines show."""

from __future__ import annotations

import dataclasses
import socket
import time
from typing import TYPE_CHECKING, Any

from .stats import Snapshot, allocator_in_use, rss_bytes

if TYPE_CHECKING:
    from ..service import Streamer


def process_snapshot(streamer: Streamer) -> Snapshot:
    """Process totals and each camera and stream, now."""
    rtsp = streamer.rtsp
    cams = tuple(c.snapshot() for c in streamer.cameras)
    streams = [s for c in cams for s in c.streams]
    ages = [c.last_frame_age_s for c in cams if c.last_frame_age_s is not None]
    processors = [c.processor for c in streamer.cameras if c.processor is not None]
    faults = dataclasses.asdict(streamer.faults)
    encoders = sorted({s.encoder for s in streams if s.encoder})
    return Snapshot(
        uptime_s=time.monotonic() - streamer._started_at if streamer._started_at else 0.0,
        frames=sum(c.frames for c in cams),
        fps=sum(c.fps for c in cams),
        dropped=sum(s.dropped for s in streams),
        clients=rtsp.clients if rtsp else 0,
        sessions=rtsp.sessions if rtsp else 0,
        rss_bytes=rss_bytes(),
        heap_bytes=allocator_in_use(),
        encoded=sum(s.encoded for s in streams),
        hook_errors=sum(p.hook_errors for p in processors),
        medias=rtsp.feeds if rtsp else 0,
        connected=rtsp.clients_connected if rtsp else 0,
        closed=rtsp.clients_closed if rtsp else 0,
        bytes_sent=rtsp.bytes_sent if rtsp else 0,
        hook_seconds=sum(p.hook_seconds for p in processors),
        encoder=",".join(encoders),
        source_restarts=faults["source_reopens"],
        idle_frames=sum(c.idle_frames for c in cams),
        keyframes=sum(s.keyframes for s in streams),
        last_frame_age_s=min(ages) if ages else None,
        outputs=tuple(o for s in streams for o in s.outputs),
        faults=faults,
        cameras=cams,
        mse_viewers=sum(s.mse_viewers for s in streams),
    )


def describe(streamer: Streamer) -> dict[str, Any]:
    """Static facts for /api/status and the status page: version, URLs, each camera's
    streams."""
    from .. import __version__

    cfg = streamer.config
    hosts: list[str | None] = [None]
    if cfg.rtsp.bind in ("0.0.0.0", "::"):
        hosts.append(socket.gethostname())
    first = streamer.streams[0]
    v = first.video
    return {
        "version": __version__,
        "urls": [cfg.rtsp.url(h, first.path) for h in hosts],
        "source": streamer.source_name,
        "video": f"{v.width}x{v.height}@{v.fps} {v.bitrate_kbps} kbps",
        "codec": v.codec,
        "encoder": first.spec.name if first.spec else "",
        "cameras": [
            {
                "name": c.name,
                "source": c.source_name,
                "streams": [
                    {
                        "path": s.path,
                        "urls": [cfg.rtsp.url(h, s.path) for h in hosts],
                        "video": f"{s.video.width}x{s.video.height}@{s.video.fps} "
                        f"{s.video.bitrate_kbps} kbps",
                        "codec": s.video.codec,
                        "encoder": s.spec.name if s.spec else "",
                    }
                    for s in c.streams
                ],
            }
            for c in streamer.cameras
        ],
    }
