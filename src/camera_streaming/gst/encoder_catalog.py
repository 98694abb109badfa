"""The H.264/H.265 encoders we know, best first, as a pure table (no gi import).

`select_encoder(available, wanted, codec)` picks one from a set of element names (the real
GStreamer registry in `runtime.available_elements()`, a fake set in tests). Each entry maps our
settings to the element's own properties, whose units differ: x264enc/x265enc/vaapi take kbps,
mpp/openh264/nvv4l2 take bps, v4l2 takes `extra-controls` in bps.

Frames reach the encoder as I420 (what `frames.py` produces). Encoders that want NV12 get a
`videoconvert` in GStreamer (a chroma interleave, cheap); Jetson's get `nvvidconv` into NVMM.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Callable

from ..config.model import VideoConfig
from ..errors import ConfigError, MissingElementError

CODECS = ("h264", "h265")
AUTO = "auto"


def _kbps(v: VideoConfig) -> int:
    return v.bitrate_kbps


def _bps(v: VideoConfig) -> int:
    return v.bitrate_kbps * 1000


# Up to this many pixels a second (640x360@30) x264 runs one thread: one encodes that in real
# time at superfast, and each sliced thread holds its own buffers (640x360: 6.6 MB resident
# with one thread, 7.1 MB with the automatic count on 2 cores; docs/memory.md).
ONE_THREAD_PIXEL_RATE = 640 * 360 * 30


def _x264(v: VideoConfig) -> str:
    # The C++ original's settings (launch.x264_properties uses this), one thread for small streams.
    one = " threads=1" if v.width * v.height * v.fps <= ONE_THREAD_PIXEL_RATE else ""
    return (
        f"tune=zerolatency speed-preset=superfast bitrate={_kbps(v)} "
        f"key-int-max={v.keyframe_distance} bframes=0 byte-stream=true{one}"
    )


def _x265(v: VideoConfig) -> str:
    return (
        f"tune=zerolatency speed-preset=superfast bitrate={_kbps(v)} "
        f"key-int-max={v.keyframe_distance}"
    )


def _openh264(v: VideoConfig) -> str:
    return (
        f"bitrate={_bps(v)} gop-size={v.keyframe_distance} rate-control=bitrate "
        f"complexity=low usage-type=camera"
    )


def _mpp(v: VideoConfig) -> str:
    return f"bps={_bps(v)} gop={v.keyframe_distance} rc-mode=cbr"


def _v4l2_h264(v: VideoConfig) -> str:
    return (
        f'extra-controls="controls,video_bitrate={_bps(v)},video_bitrate_mode=1,'
        f'h264_i_frame_period={v.keyframe_distance},repeat_sequence_header=1"'
    )


def _v4l2_h265(v: VideoConfig) -> str:
    return f'extra-controls="controls,video_bitrate={_bps(v)},video_bitrate_mode=1"'


def _nvv4l2(v: VideoConfig) -> str:
    return (
        f"bitrate={_bps(v)} control-rate=1 iframeinterval={v.keyframe_distance} "
        f"idrinterval={v.keyframe_distance} insert-sps-pps=true preset-level=1 "
        f"maxperf-enable=1"
    )


def _vaapi(v: VideoConfig) -> str:
    return f"bitrate={_kbps(v)} keyframe-period={v.keyframe_distance} rate-control=cbr"


NV12 = "videoconvert ! video/x-raw,format=NV12"
NVMM = "nvvidconv ! video/x-raw(memory:NVMM),format=NV12"


@dataclass(frozen=True)
class EncoderSpec:
    """One encoder element: what it needs before it, its properties, where it comes from."""

    name: str  # the GStreamer element
    codec: str  # h264 | h265
    label: str
    package: str  # what installs it (a Debian package, or the board vendor's)
    properties: Callable[[VideoConfig], str]
    pre: str = ""  # elements between our I420 caps and the encoder
    post_caps: str = ""  # caps forced right after the encoder
    hardware: bool = False
    needs: tuple[str, ...] = ()  # other elements `pre` uses

    @property
    def parser(self) -> str:
        return "h264parse" if self.codec == "h264" else "h265parse"

    @property
    def elements(self) -> tuple[str, ...]:
        return (self.name, *self.needs, self.parser)

    def launch(self, video: VideoConfig, name: str = "enc") -> str:
        """`[pre !] element name=NAME props [! post caps]`."""
        parts = [self.pre] if self.pre else []
        parts.append(f"{self.name} name={name} {self.properties(video)}")
        if self.post_caps:
            parts.append(self.post_caps)
        return " ! ".join(parts)


_RK = "Rockchip MPP (gstreamer-rockchip from the board's BSP)"
_JETSON = "NVIDIA JetPack (nvidia-l4t-gstreamer)"
_V4L2 = "gstreamer1.0-plugins-good (and a V4L2 memory-to-memory encoder device)"

# Best first: hardware encoders, then software. One row per element.
ENCODERS: tuple[EncoderSpec, ...] = (
    EncoderSpec("mpph264enc", "h264", "Rockchip MPP", _RK, _mpp, NV12, hardware=True,
                needs=("videoconvert",)),
    EncoderSpec("mpph265enc", "h265", "Rockchip MPP", _RK, _mpp, NV12, hardware=True,
                needs=("videoconvert",)),
    EncoderSpec("v4l2h264enc", "h264", "V4L2 M2M (Raspberry Pi)", _V4L2, _v4l2_h264, NV12,
                "video/x-h264,level=(string)4", hardware=True, needs=("videoconvert",)),
    EncoderSpec("v4l2h265enc", "h265", "V4L2 M2M", _V4L2, _v4l2_h265, NV12, hardware=True,
                needs=("videoconvert",)),
    EncoderSpec("nvv4l2h264enc", "h264", "NVIDIA Jetson", _JETSON, _nvv4l2, NVMM,
                hardware=True, needs=("nvvidconv",)),
    EncoderSpec("nvv4l2h265enc", "h265", "NVIDIA Jetson", _JETSON, _nvv4l2, NVMM,
                hardware=True, needs=("nvvidconv",)),
    EncoderSpec("vaapih264enc", "h264", "VA-API (Intel/AMD)", "gstreamer1.0-vaapi", _vaapi,
                NV12, hardware=True, needs=("videoconvert",)),
    EncoderSpec("vaapih265enc", "h265", "VA-API (Intel/AMD)", "gstreamer1.0-vaapi", _vaapi,
                NV12, hardware=True, needs=("videoconvert",)),
    EncoderSpec("x264enc", "h264", "x264 (software)", "gstreamer1.0-plugins-ugly", _x264),
    EncoderSpec("x265enc", "h265", "x265 (software)", "gstreamer1.0-plugins-bad", _x265),
    EncoderSpec("openh264enc", "h264", "OpenH264 (software)", "gstreamer1.0-plugins-bad",
                _openh264),
)  # fmt: skip

BY_NAME = {e.name: e for e in ENCODERS}
# What installs each element an encoder branch needs (merged into launch.ELEMENT_PACKAGES).
PACKAGES = {
    **{e.name: e.package for e in ENCODERS},
    "videoconvert": "gstreamer1.0-plugins-base",
    "h264parse": "gstreamer1.0-plugins-bad",
    "h265parse": "gstreamer1.0-plugins-bad",
    "nvvidconv": _JETSON,
}


def _missing(name: str) -> MissingElementError:
    return MissingElementError(name, PACKAGES.get(name, "gstreamer1.0-plugins-*"))


DEFAULT = {"h264": BY_NAME["x264enc"], "h265": BY_NAME["x265enc"]}


def candidates(codec: str = "h264") -> tuple[EncoderSpec, ...]:
    return tuple(e for e in ENCODERS if e.codec == codec)


def usable(spec: EncoderSpec, available: Collection[str]) -> bool:
    """Every element the encoder's branch needs is present."""
    return all(name in available for name in spec.elements)


def select_encoder(
    available: Collection[str], wanted: str = AUTO, codec: str = "h264"
) -> EncoderSpec:
    """The encoder to use. `wanted` is `auto` (the best usable one for `codec`) or an element
    name. Raises `ConfigError` naming `video.encoder`/`video.codec` for names we do not know
    or a mismatched codec, `MissingElementError` when nothing usable is installed."""
    if codec not in CODECS:
        raise ConfigError("codec", f"must be one of {', '.join(CODECS)}, got {codec!r}")
    if wanted != AUTO:
        spec = BY_NAME.get(wanted)
        if spec is None:
            names = ", ".join(e.name for e in ENCODERS)
            raise ConfigError("encoder", f"unknown encoder {wanted!r}; use auto or one of {names}")
        if spec.codec != codec:
            raise ConfigError("encoder", f"{wanted} encodes {spec.codec}, not {codec} (--codec)")
        for name in spec.elements:
            if name not in available:
                raise _missing(name)
        return spec
    for spec in candidates(codec):
        if usable(spec, available):
            return spec
    default = DEFAULT[codec]
    missing = next(n for n in default.elements if n not in available)
    raise _missing(missing)


def fallbacks(spec: EncoderSpec, available: Collection[str]) -> list[EncoderSpec]:
    """Usable encoders after `spec`, best first: what `auto` tries when `spec` fails to start
    (a hardware encoder whose device is busy, or whose plugin lacks a property we set)."""
    rest = candidates(spec.codec)
    return [e for e in rest[rest.index(spec) + 1 :] if usable(e, available)]


def encoder_table(
    available: Collection[str], codec: str = "h264"
) -> list[tuple[str, str, str, str, str]]:
    """Rows for `--list-encoders`: (element, codec, present/absent, picked marker, label)."""
    try:
        picked: str | None = select_encoder(available, AUTO, codec).name
    except MissingElementError:
        picked = None
    rows = []
    for e in ENCODERS:
        state = "present" if usable(e, available) else "absent"
        mark = "<- auto" if e.name == picked else ""
        rows.append((e.name, e.codec, state, mark, e.label))
    return rows
