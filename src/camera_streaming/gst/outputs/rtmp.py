"""RTMP push: the one encode, in FLV, to an RTMP server (nginx-rtmp, SRS, YouTube, ...).

`appsrc ! h264parse ! flvmux streamable=true ! rtmpsink`. FLV carries H.264 only, so
`config.validate` refuses `--rtmp` with `--codec h265`. When the server goes away rtmpsink
posts an error; the supervisor (outputs/base.py) drops the pipeline and builds a new one after
a backoff (0.5, 1, 2, 4, 5, 5 ... s). RTSP clients, recording and publishing are not touched.
"""

from __future__ import annotations

from ..launch import rtmp_launch
from .base import UrlOutput


class RtmpOutput(UrlOutput):
    kind = "rtmp"

    def launch(self) -> str:
        return rtmp_launch(self.video, self.url)
