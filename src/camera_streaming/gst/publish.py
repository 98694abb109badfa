"""Publishing to an RTSP media server (MediaMTX, gst-rtsp-server in RECORD mode, ...) with
ANNOUNCE/RECORD: `appsrc ! h264parse ! rtspclientsink protocols=tcp`. Reconnects like the
RTMP push (gst/output.py)."""

from __future__ import annotations

from ..config import VideoConfig
from .encoder import H264Encoder
from .launch import publish_launch
from .output import BACKOFF_S, EncodedOutput


class RtspPublisher(EncodedOutput):
    kind = "publish"

    def __init__(
        self,
        url: str,
        video: VideoConfig,
        encoder: H264Encoder,
        backoff: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        super().__init__("publish", url, video, encoder, backoff)
        self.url = url

    def launch(self) -> str:
        return publish_launch(self.video, self.url)
