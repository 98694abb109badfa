"""Publishing to an RTSP media server (MediaMTX, gst-rtsp-server in RECORD mode, ...) with
ANNOUNCE/RECORD: `appsrc ! h264parse ! rtspclientsink protocols=tcp`. Reconnects like the
RTMP push (gst/output.py)."""

from __future__ import annotations

from ..launch import publish_launch
from .base import UrlOutput


class RtspPublisher(UrlOutput):
    kind = "publish"

    def launch(self) -> str:
        return publish_launch(self.video, self.url)
