"""Checks of several cameras (`[[cameras]]`) and of `--substream`, called by `validate()`.

Fields are named by their place in the file, `cameras[1].name` or `cameras[0].streams[1].fps`;
the settings that describe the one camera of a config without `[[cameras]]` are refused beside
it. Pure: no gi, cv2 or NumPy."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .checks import (
    MAX_FPS,
    MAX_SIDE,
    Label,
    bad_hook,
    bad_path,
    check_codec,
    check_int,
    check_outputs,
    check_size,
    check_video,
)

if TYPE_CHECKING:
    from .model import CameraConfig, Config, SourceSpec

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
NATIVE_NO_HOOK = (
    "a gst: source feeds the encoder directly; {hook} and {overlay} need a NumPy source "
    "(test, v4l2:, file:)"
)

# The settings of the one camera a config without [[cameras]] describes, named like their flag
# (as `validate` names fields), and where each goes with [[cameras]].
SINGLE_CAMERA = {
    "path": "give each [[cameras.streams]] table its path",
    "source": "give each [[cameras]] table its source",
    "no-loop": "set loop in the [[cameras]] table of a file source",
    "hook": "set hook in the [[cameras]] table it is for",
    "overlay": "set overlay in the [[cameras]] table it is for",
    "substream": "add a [[cameras.streams]] table to the camera",
    "rtmp": "set rtmp in the [[cameras.streams]] table it is for",
    "save": "set save in the [[cameras.streams]] table it is for",
    "publish": "set publish in the [[cameras.streams]] table it is for",
}


def refused(label: str, flag_name: str) -> ConfigError:
    """The error for a single-camera setting given beside [[cameras]]."""
    return ConfigError(
        label, f"describes the single camera; with [[cameras]], {SINGLE_CAMERA[flag_name]}"
    )


def under(prefix: str) -> Label:
    """Names the keys of one table: `under("cameras[0].streams[1]")("fps")`."""
    return lambda key: f"{prefix}.{key}"


def device(source: SourceSpec) -> str | None:
    """The capture device a source opens (`v4l2:0` and `v4l2:/dev/video0` are one device),
    `auto` for the first camera that opens, None for sources that share nothing."""
    if source.kind == "auto":
        return "auto"
    if source.kind == "v4l2":
        path = source.location
    elif source.kind == "gst":
        for element in source.location.split("!"):
            words = element.split()
            if words[:1] == ["v4l2src"]:
                given = [w[len("device=") :] for w in words[1:] if w.startswith("device=")]
                path = given[0].strip("\"'") if given else "/dev/video0"
                break
        else:
            return None
    else:
        return None
    return os.path.realpath(f"/dev/video{path}" if path.isdigit() else path)


def check_single_camera_fields(config: Config) -> None:
    """With [[cameras]], the single-camera settings must keep their defaults."""
    default = type(config)()
    source, plain = config.source, default.source
    given = {
        "path": config.rtsp.path != default.rtsp.path,
        "source": (source.kind, source.location) != (plain.kind, plain.location),
        "no-loop": source.loop != plain.loop,
        "hook": config.hook is not None,
        "overlay": bool(config.overlay),
        "substream": config.substream is not None,
        "rtmp": config.outputs.rtmp_url is not None,
        "save": config.outputs.save_dir is not None,
        "publish": config.outputs.publish_url is not None,
    }
    for flag_name, is_set in given.items():
        if is_set:
            raise refused(flag_name, flag_name)


def check_cameras(config: Config) -> None:
    """Each camera, then each of its streams; names, stream paths and devices are unique."""
    check_single_camera_fields(config)
    names: dict[str, int] = {}
    devices: dict[str, int] = {}
    paths: dict[str, str] = {}
    for i, cam in enumerate(config.cameras):
        at = f"cameras[{i}]"
        if not isinstance(cam.name, str) or not cam.name or not set(cam.name) <= NAME_CHARS:
            raise ConfigError(
                f"{at}.name", f"must be lower-case letters, digits, _ and -, got {cam.name!r}"
            )
        if cam.name in names:
            raise ConfigError(f"{at}.name", f"'{cam.name}' is used by cameras[{names[cam.name]}]")
        names[cam.name] = i
        _check_device(cam.source, at, devices, i)
        _check_camera(cam, at)
        for j, stream in enumerate(cam.streams):
            label = f"{at}.streams[{j}]"
            if stream.path in paths:
                raise ConfigError(
                    f"{label}.path", f"'{stream.path}' is used by {paths[stream.path]}"
                )
            paths[stream.path] = label
        _check_streams(cam, at)


def _check_device(source: SourceSpec, at: str, devices: dict[str, int], i: int) -> None:
    dev = device(source)
    if dev is None:
        return
    if dev in devices:
        k = devices[dev]
        if dev == "auto":
            raise ConfigError(
                f"{at}.source",
                f"'auto' is also the source of cameras[{k}]; name each camera's device "
                "(v4l2:/dev/videoN)",
            )
        raise ConfigError(
            f"{at}.source",
            f"'{source}' opens {dev}, as cameras[{k}] does; a device feeds one camera "
            f"(add a stream to cameras[{k}] instead)",
        )
    devices[dev] = i


def _check_camera(cam: CameraConfig, at: str) -> None:
    if cam.source.native and (cam.hook is not None or cam.overlay):
        raise ConfigError(f"{at}.source", NATIVE_NO_HOOK.format(hook="hook", overlay="overlay"))
    if cam.hook is not None and (not isinstance(cam.hook, str) or bad_hook(cam.hook)):
        raise ConfigError(f"{at}.hook", f"must be module:function, got {cam.hook!r}")
    if not cam.streams:
        raise ConfigError(
            f"{at}.streams", "no streams: give the camera at least one [[cameras.streams]] table"
        )
    if bool(cam.width) != bool(cam.height):
        missing = "height" if cam.width else "width"
        raise ConfigError(
            f"{at}.{missing}", "give width and height together (neither: the first stream's size)"
        )
    if cam.width:
        check_size(f"{at}.width", f"{at}.height", cam.width, cam.height)
    if cam.fps:
        check_int(f"{at}.fps", cam.fps, 1, MAX_FPS)


def _check_streams(cam: CameraConfig, at: str) -> None:
    """Every stream's own fields, then against the camera: no faster, no bigger."""
    for j, stream in enumerate(cam.streams):
        label = under(f"{at}.streams[{j}]")
        p = stream.path
        if bad_path(p) or "//" in p or p.endswith("/") or not p.isprintable():
            raise ConfigError(label("path"), f"must look like /{cam.name}, got {p!r}")
        check_video(stream.video, label)
        check_codec(stream.video, label)
        check_outputs(stream.outputs, label, stream.video.codec)
    main = cam.streams[0].video
    rate = cam.fps or main.fps
    width, height = cam.width or main.width, cam.height or main.height
    for j, stream in enumerate(cam.streams):
        label, v = under(f"{at}.streams[{j}]"), stream.video
        if v.fps > rate:
            raise ConfigError(label("fps"), f"{v.fps} is above the camera's {rate} fps")
        if v.width > width or v.height > height:
            raise ConfigError(
                label("width" if v.width > width else "height"),
                f"{v.width}x{v.height} is bigger than the camera's {width}x{height}",
            )


def check_substream(config: Config) -> None:
    """`--substream` is no bigger and no faster than the main stream."""
    sub, main = config.substream, config.video
    if sub is None:
        return
    for what, value in (("width", sub.width), ("height", sub.height)):
        if isinstance(value, bool) or not isinstance(value, int) or not 16 <= value <= MAX_SIDE:
            raise ConfigError("substream", f"{what} must be between 16 and {MAX_SIDE}, got {value}")
        if value % 2:
            raise ConfigError("substream", f"{what} must be even for I420, got {value}")
    if isinstance(sub.fps, bool) or not isinstance(sub.fps, int) or not 0 <= sub.fps <= MAX_FPS:
        raise ConfigError("substream", f"fps must be between 1 and {MAX_FPS}, got {sub.fps}")
    if sub.width > main.width or sub.height > main.height:
        raise ConfigError(
            "substream",
            f"{sub.width}x{sub.height} is bigger than the main stream's {main.width}x{main.height}",
        )
    if sub.fps > main.fps:
        raise ConfigError("substream", f"{sub.fps} fps is above the main stream's {main.fps}")
