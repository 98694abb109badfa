"""Field checks shared by the process-wide settings and each camera's streams. Every check takes
the name to report (`width`, or `cameras[0].streams[1].width`) so one rule gives one message
wherever the field is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..errors import ConfigError

if TYPE_CHECKING:
    from .model import OutputsConfig, VideoConfig, WebRtcConfig

MAX_FPS = 240
MAX_SIDE = 7680

# TOML key (`keyframe_interval`) -> the name an error reports (`keyframe-interval`).
Label = Callable[[str], str]


def flag_label(key: str) -> str:
    """Process-wide fields are named like their flag without `--`."""
    return key.replace("_", "-")


def check_int(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(name, f"must be between {lo} and {hi}, got {value}")


def check_float(name: str, value: object, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(name, f"must be a number of seconds, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(name, f"must be between {lo:g} and {hi:g} seconds, got {value}")


def check_number(name: str, value: object, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(name, f"must be a number, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(name, f"must be between {lo:g} and {hi:g}, got {value}")


def check_size(width_name: str, height_name: str, width: object, height: object) -> None:
    """A frame size: whole numbers in range, both even (I420)."""
    check_int(width_name, width, 16, MAX_SIDE)
    check_int(height_name, height, 16, MAX_SIDE)
    assert isinstance(width, int) and isinstance(height, int)
    if width % 2 or height % 2:
        raise ConfigError(
            width_name if width % 2 else height_name,
            f"must be even for I420 (got {width}x{height})",
        )


def check_video(v: VideoConfig, label: Label = flag_label) -> None:
    """Size, rate, bitrate and keyframe interval of one encode."""
    check_size(label("width"), label("height"), v.width, v.height)
    check_int(label("fps"), v.fps, 1, MAX_FPS)
    check_int(label("bitrate"), v.bitrate_kbps, 16, 200_000)
    if not 0.1 <= float(v.keyframe_interval_s) <= 60:
        raise ConfigError(
            label("keyframe_interval"),
            f"must be between 0.1 and 60 seconds, got {v.keyframe_interval_s}",
        )


def check_codec(v: VideoConfig, label: Label = flag_label) -> None:
    if v.codec not in ("h264", "h265"):
        raise ConfigError(label("codec"), f"must be h264 or h265, got {v.codec!r}")
    if not v.encoder or not all(c.isalnum() or c in "-_" for c in v.encoder):
        raise ConfigError(
            label("encoder"), f"must be auto or an encoder element name, got {v.encoder!r}"
        )


def check_url(name: str, url: str, schemes: tuple[str, ...], example: str) -> None:
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    bad = any(c in url for c in ' "\\')
    if not sep or scheme.lower() not in schemes or not host or "/" not in rest or bad:
        raise ConfigError(name, f"must look like {example}, got {url!r}")


def check_outputs(o: OutputsConfig, label: Label = flag_label, codec: str = "h264") -> None:
    """RTMP and publish URLs (RTMP only for H.264: FLV carries nothing else), the recording
    directory and its retention."""
    if o.rtmp_url is not None:
        check_url(label("rtmp"), o.rtmp_url, ("rtmp", "rtmps"), "rtmp://HOST[:PORT]/APP/STREAM")
        if codec != "h264":
            hint = "use --codec h264, or --save/--publish, which take H.265"
            raise ConfigError(label("rtmp"), f"FLV/RTMP carries H.264 only, not {codec}: {hint}")
    if o.publish_url is not None:
        check_url(label("publish"), o.publish_url, ("rtsp", "rtsps"), "rtsp://HOST[:PORT]/PATH")
    if o.save_dir is not None and not o.save_dir.strip():
        raise ConfigError(label("save"), "must be a directory path")
    if not 1 <= float(o.segment_s) <= 86_400:
        raise ConfigError(
            label("segment"), f"must be between 1 and 86400 seconds, got {o.segment_s}"
        )
    check_int(label("keep_segments"), o.keep_segments, 0, 1_000_000)
    check_int(label("keep_bytes"), o.keep_bytes, 0, 1 << 50)


def bad_path(path: str) -> bool:
    """True unless `path` is an RTSP mount path like /stream."""
    return not path.startswith("/") or len(path) < 2 or any(c in path for c in " ?#\\")


def bad_hook(hook: str) -> bool:
    mod, sep, fn = hook.partition(":")
    return not sep or not mod or not fn


def udp_port_range(text: str) -> tuple[int, int]:
    """`40000-40100` -> (40000, 40100), `40000` -> (40000, 40000), `` -> (0, 0) (any port);
    ValueError for anything else."""
    text = text.strip()
    if not text:
        return 0, 0
    lo, sep, hi = text.partition("-")
    first, last = int(lo), int(hi) if sep else int(lo)
    if not 1 <= first <= last <= 65535:
        raise ValueError(text)
    return first, last


def check_webrtc(w: WebRtcConfig) -> None:
    try:
        udp_port_range(w.udp_ports)
    except ValueError:
        raise ConfigError(
            "webrtc-udp-ports", f"must look like 40000-40100 or 40000, got {w.udp_ports!r}"
        ) from None
    origins = [o.strip() for o in w.allow_origin.split(",")]
    for origin in origins:
        if origin != "*" and (
            "://" not in origin or origin.endswith("/") or any(c in origin for c in ' "')
        ):
            raise ConfigError(
                "webrtc-allow-origin",
                f"must be * or origins like https://example.com, got {w.allow_origin!r}",
            )
    for name, url, schemes, example in (
        ("webrtc-stun", w.stun, ("stun",), "stun://HOST:PORT"),
        ("webrtc-turn", w.turn, ("turn", "turns"), "turn://USER:PASSWORD@HOST:PORT"),
    ):
        scheme, sep, rest = url.partition("://")
        host = rest.rpartition("@")[2]
        if url and (not sep or scheme not in schemes or not host or "/" in host or " " in url):
            shown = url if name == "webrtc-stun" else "(not shown)"  # a TURN URL has a password
            raise ConfigError(name, f"must look like {example}, got {shown}")
    check_float("webrtc-timeout", w.timeout_s, 1, 3600)
