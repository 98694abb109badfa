"""Configuration: frozen dataclasses validated once at the edge and passed down read-only.

Pure: no gi or cv2 import, so it is unit-tested in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..errors import ConfigError
from .cameras import NAME_CHARS  # noqa: F401 - re-exported
from .checks import (
    MAX_FPS,  # noqa: F401 - re-exported
    MAX_SIDE,  # noqa: F401 - re-exported
)

USERS_ENV = "CAMERA_STREAMING_USERS"
AUTH_METHODS = ("none", "basic", "digest")
FANOUTS = ("per-client", "shared")


@dataclass(frozen=True)
class SourceSpec:
    """Where frames come from: `auto`, `test`, `v4l2:/dev/videoN`, `file:PATH`, `api`
    (frames pushed from Python) or `gst:LAUNCH` (a GStreamer source fragment, e.g.
    `gst:v4l2src device=/dev/video0`, linked straight into the encoder: no Python per frame,
    so no hook or overlay)."""

    kind: str = "auto"
    location: str = ""
    loop: bool = True

    @classmethod
    def parse(cls, text: str, field_name: str = "source") -> SourceSpec:
        text = text.strip()
        if text in ("auto", "test", "api"):
            return cls(kind=text)
        kind, sep, location = text.partition(":")
        location = location.strip()
        if not sep or kind not in ("v4l2", "file", "gst") or not location:
            raise ConfigError(
                field_name,
                f"'{text}' is not a source; use auto, test, v4l2:/dev/videoN, file:PATH "
                "or gst:LAUNCH",
            )
        if kind == "gst" and (location.startswith("!") or location.endswith("!")):
            raise ConfigError(field_name, f"'{location}' is not a GStreamer launch fragment")
        if kind == "v4l2" and not (location.startswith("/dev/") or location.isdigit()):
            raise ConfigError(field_name, f"'{location}' is not a device; use v4l2:/dev/video0")
        return cls(kind=kind, location=location)

    @property
    def native(self) -> bool:
        """True when GStreamer produces the frames itself (`gst:`): no NumPy frame path."""
        return self.kind == "gst"

    def __str__(self) -> str:
        return self.kind if not self.location else f"{self.kind}:{self.location}"


@dataclass(frozen=True)
class VideoConfig:
    width: int = 1280
    height: int = 720
    fps: int = 25
    bitrate_kbps: int = 2000
    keyframe_interval_s: float = 1.0
    encoder: str = "auto"  # auto: the best one installed (gst/encoders.py), or an element name
    codec: str = "h264"  # h264 | h265

    @property
    def keyframe_distance(self) -> int:
        """Frames between keyframes (x264enc `key-int-max`)."""
        return max(1, round(self.fps * self.keyframe_interval_s))

    @property
    def i420_size(self) -> int:
        return self.width * self.height * 3 // 2


@dataclass(frozen=True)
class RtspConfig:
    enabled: bool = True
    port: int = 8554
    path: str = "/stream"
    bind: str = "0.0.0.0"
    max_clients: int = 0  # 0: unlimited
    # per-client: a light media per client (robust, one streaming thread per client);
    # shared: one media for every client, kept prepared (one sending thread). docs/rtsp.md
    fanout: str = "shared"
    session_timeout_s: int = 30
    post_session_timeout_s: int = 5
    auth: str = "none"  # none | basic | digest
    # (name, password) pairs; never shown in repr or logs. Build with `users_from_env()`,
    # `parse_users()` or any other Mapping via `with_users()`.
    users: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    tls_cert: str = ""  # PEM files; both set -> RTSPS (TCP only)
    tls_key: str = ""

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    def with_users(self, users: Mapping[str, str]) -> RtspConfig:
        return replace(self, users=tuple(sorted(users.items())))

    def url(self, host: str | None = None, path: str | None = None) -> str:
        """The URL clients use for `path` (default: this config's single-stream path)."""
        shown = host or ("127.0.0.1" if self.bind in ("0.0.0.0", "::") else self.bind)
        if ":" in shown:
            shown = f"[{shown}]"
        scheme = "rtsps" if self.tls else "rtsp"
        return f"{scheme}://{shown}:{self.port}{path or self.path}"


@dataclass(frozen=True)
class RecoveryConfig:
    """Fault handling: a source silent for `stall_timeout_s` is treated as lost (slate, re-open);
    re-open attempts back off from 0.1 s up to `retry_max_s`; an encoder producing nothing for
    `stall_timeout_s` while frames go in is rebuilt."""

    stall_timeout_s: float = 2.0
    retry_max_s: float = 1.0


@dataclass(frozen=True)
class HttpConfig:
    """The HTTP side port: /metrics, /healthz, /api/status, /snapshot.jpg, the status page and
    the browser view (/view/PATH, fed over the WebSocket /PATH/ws)."""

    enabled: bool = True
    port: int = 8080
    bind: str = "0.0.0.0"
    health_timeout_s: float = 5.0  # /healthz answers 503 when no frame came for this long
    snapshot_max_fps: float = 4.0  # /snapshot.jpg re-encodes at most this often


@dataclass(frozen=True)
class OnvifConfig:
    """ONVIF device and media services on the HTTP port (`/onvif/device_service`,
    `/onvif/media_service`) and the WS-Discovery responder on UDP `discovery_port`."""

    enabled: bool = True
    discovery: bool = True
    discovery_port: int = 3702


@dataclass(frozen=True)
class WebRtcConfig:
    """WebRTC viewers through WHEP on the HTTP port (docs/webrtc.md). `allow_origin`: `*` or
    origins separated by commas, for CORS; `udp_ports`: `40000-40100` or one port, where the
    ICE agents listen (empty: any); `stun`/`turn`: `stun://HOST:PORT`,
    `turn://USER:PASSWORD@HOST:PORT`; a viewer that sends no RTCP for `timeout_s` is dropped."""

    allow_origin: str = "*"
    udp_ports: str = ""
    stun: str = ""
    turn: str = field(default="", repr=False)
    timeout_s: float = 10.0


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"
    format: str = "text"  # text | json (one JSON object a line, for journald/Loki)


@dataclass(frozen=True)
class OutputsConfig:
    """Outputs beside the RTSP server, all fed from the one encode (docs/outputs.md).

    rtmp_url: push FLV to this RTMP server (`rtmp://HOST[:PORT]/APP/STREAM`).
    save_dir: record segments into this directory (Matroska, readable after kill -9).
    publish_url: publish to this RTSP server with ANNOUNCE/RECORD (`rtsp://HOST[:PORT]/PATH`).
    Retention: keep at most `keep_segments` files and `keep_bytes` bytes (0: no limit).
    """

    rtmp_url: str | None = None
    save_dir: str | None = None
    segment_s: float = 300.0
    keep_segments: int = 0
    keep_bytes: int = 0
    publish_url: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.rtmp_url or self.save_dir or self.publish_url)


@dataclass(frozen=True)
class StreamConfig:
    """One encode of a camera: its size, rate, bitrate, codec and encoder (`video`), the RTSP
    mount it is served at (`path`) and its own outputs (RTMP, recording, publish)."""

    path: str
    video: VideoConfig = field(default_factory=VideoConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)

    @property
    def name(self) -> str:
        """The path without its leading slash: the `stream` label in figures."""
        return self.path.lstrip("/")


@dataclass(frozen=True)
class CameraConfig:
    """One source, its hook and overlay, and the streams encoded from its frames (the first
    is the main stream). The camera captures at `width`x`height`@`fps`; each stream resizes
    from that and takes every n-th frame for a lower rate."""

    name: str
    source: SourceSpec = field(default_factory=SourceSpec)
    streams: tuple[StreamConfig, ...] = ()
    hook: str | None = None
    overlay: bool = False
    width: int = 0  # 0: the first stream's
    height: int = 0
    fps: int = 0

    @property
    def capture(self) -> VideoConfig:
        """The capture size and rate: the camera's own, else its first stream's."""
        main = self.streams[0].video
        return replace(
            main, width=self.width or main.width, height=self.height or main.height,
            fps=self.fps or max(s.video.fps for s in self.streams),
        )  # fmt: skip


@dataclass(frozen=True)
class Substream:
    """`--substream WIDTHxHEIGHT[@FPS]`: a second stream of the one camera at `PATH/sub`."""

    width: int
    height: int
    fps: int = 0  # 0: the main stream's rate

    @classmethod
    def parse(cls, text: str, field_name: str = "substream") -> Substream:
        size, at, rate = text.strip().partition("@")
        w, sep, h = size.lower().partition("x")
        try:
            if not sep or (at and not rate):
                raise ValueError
            return cls(int(w), int(h), int(rate) if rate else 0)
        except ValueError:
            raise ConfigError(
                field_name, f"must look like 640x360 or 640x360@10, got {text!r}"
            ) from None

    def __str__(self) -> str:
        return f"{self.width}x{self.height}" + (f"@{self.fps}" if self.fps else "")


SUBSTREAM_BITRATE_KBPS = 500  # --substream's bitrate: enough for 640x360@10 H.264


@dataclass(frozen=True)
class Config:
    video: VideoConfig = field(default_factory=VideoConfig)
    rtsp: RtspConfig = field(default_factory=RtspConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)
    source: SourceSpec = field(default_factory=SourceSpec)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    hook: str | None = None  # "module:function"
    stats_interval_s: float = 1.0
    http: HttpConfig = field(default_factory=HttpConfig)
    log: LogConfig = field(default_factory=LogConfig)
    onvif: OnvifConfig = field(default_factory=OnvifConfig)
    webrtc: WebRtcConfig = field(default_factory=WebRtcConfig)
    overlay: bool = False  # the built-in time / frame / FPS overlay
    # [[cameras]] from the file; empty: one camera from the fields above (and `substream`)
    cameras: tuple[CameraConfig, ...] = ()
    substream: Substream | None = None

    @property
    def all_cameras(self) -> tuple[CameraConfig, ...]:
        """The cameras to run: `cameras` as given, or the one camera the single-camera flags
        and keys describe (named `camera`, its stream at `rtsp.path`, plus `PATH/sub` with
        `--substream`)."""
        if self.cameras:
            return self.cameras
        streams = [StreamConfig(self.rtsp.path, self.video, self.outputs)]
        sub = self.substream
        if sub is not None:
            video = replace(
                self.video, width=sub.width, height=sub.height, fps=sub.fps or self.video.fps,
                bitrate_kbps=min(self.video.bitrate_kbps, SUBSTREAM_BITRATE_KBPS),
            )  # fmt: skip
            streams.append(StreamConfig(self.rtsp.path.rstrip("/") + "/sub", video))
        return (CameraConfig("camera", self.source, tuple(streams), self.hook, self.overlay),)

    @property
    def all_streams(self) -> tuple[StreamConfig, ...]:
        return tuple(s for c in self.all_cameras for s in c.streams)

    def with_video(self, **changes: object) -> Config:
        return replace(self, video=replace(self.video, **changes))  # type: ignore[arg-type]
