"""Publishing to an RTSP media server (MediaMTX, gst-rtsp-server in RECORD mode, ...) with
ANNOUNCE/RECORD: `appsrc ! h264parse ! rtspclientsink protocols=tcp` (h265parse with
`--codec h265`; rtspclientsink picks rtph264pay or rtph265pay for the caps). Reconnects like
the RTMP push (outputs/base.py)."""

from __future__ import annotations

from ..launch import publish_launch
from .base import UrlOutput


class RtspPublisher(UrlOutput):
    kind = "publish"

    def launch(self) -> str:
        return publish_launch(self.video, self.url)
