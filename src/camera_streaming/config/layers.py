"""Where settings come from: defaults < TOML file (`--config`) < `CAMERA_STREAMING_*` environment
< command line. Pure (no gi/cv2): one table, `SETTINGS`, drives all four layers, the argparse
flags, `--print-config` and the field names in error messages.

To add a setting: add the field to its frozen dataclass in `model.py` (and the dataclass to
`Config`), then one `Setting` row here:

    Setting("auth", "users", "auth.users", list, "--user", "USER:PASS", "...", secret=True),

The TOML key is `[auth] users`, the flag `--user`, the variable `CAMERA_STREAMING_USER`; values
of `secret` rows are masked by `--print-config`. Validation names in `config.validate` are the
flag without `--`, so errors are re-labelled with where the value came from.

`[[cameras]]` tables are read and written by `camera_tables`; beside them, the settings that
describe the single camera (`--source`, `--path`, `--substream`, ...) are refused when given.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .camera_tables import (
    RawCamera,
    build_cameras,
    camera_origins,
    label_camera_error,
    read_cameras,
    render_cameras,
)
from .cameras import SINGLE_CAMERA, refused
from .model import Config, SourceSpec, Substream
from .validation import parse_users, validate
from .values import (
    ENV_PREFIX,
    MASK,  # noqa: F401 - re-exported
    Setting,
    check_type,
    mask,
    parse_size,
    parse_text,
    toml_value,
)

SECTIONS = ("rtsp", "video", "source", "http", "auth", "outputs", "onvif", "webrtc", "log")


S = Setting
SETTINGS: tuple[Setting, ...] = (
    S("rtsp", "enabled", "rtsp.enabled", bool, "--no-rtsp", "",
      "do not serve RTSP (only --rtmp/--save/--publish)", const=False),
    S("rtsp", "port", "rtsp.port", int, "--port", "PORT", "RTSP port"),
    S("rtsp", "tls_cert", "rtsp.tls_cert", str, "--tls-cert", "FILE",
      "PEM certificate: serve rtsps:// (TCP transport only)"),
    S("rtsp", "tls_key", "rtsp.tls_key", str, "--tls-key", "FILE",
      "PEM private key for --tls-cert"),
    S("rtsp", "path", "rtsp.path", str, "--path", "PATH", "RTSP mount path"),
    S("rtsp", "bind", "rtsp.bind", str, "--bind", "ADDRESS", "address to listen on"),
    S("rtsp", "max_clients", "rtsp.max_clients", int, "--max-clients", "N",
      "refuse RTSP sessions beyond N with 503 (0: unlimited)"),
    S("rtsp", "fanout", "rtsp.fanout", str, "--fanout", "shared|per-client",
      "one media for all clients (default), or a media per client"),
    S("rtsp", "session_timeout", "rtsp.session_timeout_s", int, "--session-timeout", "SECONDS",
      "drop sessions of clients silent this long"),
    S("video", "width", "video.width", int, "--width", "PIXELS", "frame width"),
    S("video", "height", "video.height", int, "--height", "PIXELS", "frame height"),
    S("video", "fps", "video.fps", int, "--fps", "N", "frames per second"),
    S("video", "bitrate", "video.bitrate_kbps", int, "--bitrate", "KBPS", "bitrate in kbps"),
    S("video", "keyframe_interval", "video.keyframe_interval_s", float, "--keyframe-interval",
      "SECONDS", "seconds between keyframes"),
    S("video", "encoder", "video.encoder", str, "--encoder", "NAME",
      "auto or an element: mpph264enc, v4l2h264enc, nvv4l2h264enc, vaapih264enc, x264enc, "
      "openh264enc, ... (see --list-encoders)"),
    S("video", "codec", "video.codec", str, "--codec", "h264|h265", "video codec"),
    S("video", "substream", "substream", str, "--substream", "WIDTHxHEIGHT[@FPS]",
      "also serve a smaller encode of the camera at PATH/sub, e.g. 640x360@10 (at most "
      "500 kbps; FPS: the main stream's if not given)"),
    S("video", "overlay", "overlay", bool, "--overlay", "", "draw time, frame index and FPS",
      const=True),
    S("video", "hook", "hook", str, "--hook", "MODULE:FUNCTION",
      "call FUNCTION(frame) on every streamed BGR frame; it may draw in place"),
    S("source", "spec", "source.spec", str, "--source", "SPEC",
      "auto | test | v4l2:/dev/videoN | file:PATH (auto: the first camera that opens, else "
      "the test pattern)"),
    S("source", "loop", "source.loop", bool, "--no-loop", "", "do not loop a file source",
      const=False),
    S("source", "stall_timeout", "recovery.stall_timeout_s", float, "--stall-timeout", "SECONDS",
      "a source silent this long is re-opened (NO SIGNAL slate meanwhile); an encoder producing "
      "nothing this long is rebuilt"),
    S("source", "retry_max", "recovery.retry_max_s", float, "--retry-max", "SECONDS",
      "longest wait between source re-open attempts"),
    S("auth", "method", "rtsp.auth", str, "--auth", "none|basic|digest",
      "RTSP authentication; users from [auth] users or CAMERA_STREAMING_USERS"),
    S("auth", "users", "rtsp.users", list, "--users", "NAME:PASSWORD",
      "users for --auth as name:password entries (file or environment only, never a flag)",
      secret=True, cli=False),
    S("http", "enabled", "http.enabled", bool, "--no-http", "", "no HTTP port", const=False),
    S("http", "port", "http.port", int, "--http-port", "PORT",
      "HTTP port for /metrics, /healthz, /api/status, /snapshot.jpg, / and the browser view "
      "/view/PATH (0: off)"),
    S("http", "bind", "http.bind", str, "--http-bind", "ADDRESS", "HTTP address"),
    S("http", "health_timeout", "http.health_timeout_s", float, "--health-timeout", "SECONDS",
      "/healthz answers 503 when no frame came for this long"),
    S("http", "snapshot_max_fps", "http.snapshot_max_fps", float, "--snapshot-max-fps", "N",
      "/snapshot.jpg encodes at most N JPEGs a second"),
    S("outputs", "rtmp", "outputs.rtmp_url", str, "--rtmp", "URL",
      "push FLV of the same encode to rtmp://HOST[:PORT]/APP/STREAM"),
    S("outputs", "save", "outputs.save_dir", str, "--save", "DIR",
      "record Matroska segments of the same encode into DIR"),
    S("outputs", "segment", "outputs.segment_s", float, "--segment", "SECONDS",
      "length of a recorded segment"),
    S("outputs", "keep_segments", "outputs.keep_segments", int, "--keep-segments", "N",
      "keep at most N recorded segments, removing the oldest (0: all)"),
    S("outputs", "keep_bytes", "outputs.keep_bytes", int, "--keep-bytes", "SIZE",
      "keep at most SIZE of recordings, e.g. 500M or 20G (0: no limit)", parse="size"),
    S("outputs", "publish", "outputs.publish_url", str, "--publish", "URL",
      "publish to an RTSP server with ANNOUNCE/RECORD: rtsp://SERVER[:PORT]/PATH"),
    S("onvif", "enabled", "onvif.enabled", bool, "--no-onvif", "",
      "no ONVIF device/media services on the HTTP port, no WS-Discovery", const=False),
    S("onvif", "discovery", "onvif.discovery", bool, "--no-onvif-discovery", "",
      "serve ONVIF but do not answer WS-Discovery probes (NVRs then need the address)",
      const=False),
    S("onvif", "discovery_port", "onvif.discovery_port", int, "--onvif-discovery-port", "PORT",
      "UDP port of the WS-Discovery responder (multicast group 239.255.255.250)"),
    S("webrtc", "allow_origin", "webrtc.allow_origin", str, "--webrtc-allow-origin", "ORIGINS",
      "pages allowed to play over WHEP from another origin: * or origins, comma-separated"),
    S("webrtc", "udp_ports", "webrtc.udp_ports", str, "--webrtc-udp-ports", "FIRST-LAST",
      "UDP ports for WebRTC media, e.g. 40000-40100 (empty: any)"),
    S("webrtc", "stun", "webrtc.stun", str, "--webrtc-stun", "URL",
      "STUN server for WebRTC, stun://HOST:PORT (empty: none; a LAN needs none)"),
    S("webrtc", "turn", "webrtc.turn", str, "--webrtc-turn", "URL",
      "TURN server for WebRTC, turn://USER:PASSWORD@HOST:PORT (file or environment only)",
      secret=True, cli=False),
    S("webrtc", "timeout", "webrtc.timeout_s", float, "--webrtc-timeout", "SECONDS",
      "drop a WebRTC viewer that sent no RTCP report for this long"),
    S("log", "level", "log.level", str, "--log-level", "LEVEL", "debug, info, warning, error"),
    S("log", "format", "log.format", str, "--log-format", "text|json",
      "text, or json: one JSON object a line (journald, Loki)"),
    S("log", "stats_interval", "stats_interval_s", float, "--stats-interval", "SECONDS",
      "seconds between stats lines"),
)  # fmt: skip


def _size_flag(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _default(config: Config, path: str) -> Any:
    if path == "source.spec":
        return str(config.source)
    if path == "substream":
        return None if config.substream is None else str(config.substream)
    obj: Any = config
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def add_flags(parser: argparse.ArgumentParser, table: Sequence[Setting] = SETTINGS) -> None:
    """One flag per setting, grouped by TOML section in --help; absent flags stay absent
    from the namespace (SUPPRESS)."""
    defaults = Config()
    groups: dict[str, Any] = {}
    for s in table:
        if not s.cli:
            continue
        if s.section not in groups:
            groups[s.section] = parser.add_argument_group(s.section)
        group = groups[s.section]
        shown = _default(defaults, s.path)
        text = f"{s.help} ([{s.section}] {s.key}, {s.env}; default {toml_value(shown)})"
        if s.type is bool:
            group.add_argument(s.flag, dest=s.name, action="store_const", const=s.const,
                                default=argparse.SUPPRESS, help=text)  # fmt: skip
        elif s.type is list:  # repeat the flag: --user a:b --user c:d
            group.add_argument(s.flag, dest=s.name, action="append", default=argparse.SUPPRESS,
                                metavar=s.metavar or None, help=text)  # fmt: skip
        else:
            kind: Any = s.type if s.type in (int, float) else str
            if s.parse == "size":
                kind = _size_flag
            group.add_argument(s.flag, dest=s.name, type=kind, default=argparse.SUPPRESS,
                                metavar=s.metavar or None, help=text)  # fmt: skip


@dataclass(frozen=True)
class Effective:
    """The validated config plus where each setting came from: default, file, env, cli."""

    config: Config
    origins: Mapping[str, str]
    file: str | None


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    if sys.version_info >= (3, 11):  # imported here: a run without --config loads no TOML
        import tomllib
    else:  # pragma: no cover - exercised on 3.9/3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from None


def _from_file(data: Mapping[str, Any], table: Sequence[Setting], where: str) -> dict[str, Any]:
    by_name = {s.name: s for s in table}
    out: dict[str, Any] = {}
    for section, body in data.items():
        if section == "cameras":
            continue  # read_cameras
        if section not in SECTIONS:
            known = ", ".join(f"[{x}]" for x in SECTIONS)
            raise ConfigError(
                f"[{section}]", f"unknown section in {where}; use {known} or [[cameras]]"
            )
        if not isinstance(body, dict):
            raise ConfigError(section, f"must be a [{section}] table in {where}")
        for key, value in body.items():
            s = by_name.get(f"{section}.{key}")
            if s is None:
                known = ", ".join(x.key for x in table if x.section == section) or "none yet"
                raise ConfigError(f"{section}.{key}", f"unknown key in {where} (known: {known})")
            out[s.name] = check_type(s, value, f"{s.name} (in {where})")
    return out


def _from_env(env: Mapping[str, str], table: Sequence[Setting]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in table:
        text = env.get(s.env)
        if text is None:
            continue
        out[s.name] = parse_text(s, text, s.env)
    return out


def load(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | None = None,
    table: Sequence[Setting] = SETTINGS,
) -> Effective:
    """Merge the layers (CLI > env > file > defaults), build and validate one `Config`.

    `cli` maps setting names (`video.width`) to values, as `add_flags` leaves them in the
    namespace. `config_file` defaults to `$CAMERA_STREAMING_CONFIG`. Every error names the
    field the way the user set it: `--width`, `CAMERA_STREAMING_WIDTH` or
    `video.width (in FILE)`; `[[cameras]]` fields by their place, `cameras[0].streams[1].fps
    (in FILE)`, or `(inherited from --fps)` for a stream key its table does not give."""
    env = os.environ if env is None else env
    cli = dict(cli or {})
    config_file = config_file or env.get(ENV_PREFIX + "CONFIG") or None
    layers: list[tuple[str, dict[str, Any]]] = []
    cameras: tuple[RawCamera, ...] = ()
    if config_file:
        data = read_toml(config_file)
        if data.get("cameras", []) != []:
            cameras = read_cameras(data["cameras"], config_file, table)
        layers.append(("file", _from_file(data, table, config_file)))
    layers.append(("env", _from_env(env, table)))
    layers.append(("cli", {k: v for k, v in cli.items() if k in {s.name for s in table}}))
    values: dict[str, Any] = {}
    origins: dict[str, str] = {s.name: "default" for s in table}
    for origin, layer in layers:
        for name, value in layer.items():
            values[name] = value
            origins[name] = origin
    by_name = {s.name: s for s in table}

    def label(name: str) -> str:
        s, origin = by_name[name], origins[name]
        if origin == "cli":
            return s.flag
        if origin == "env":
            return s.env
        if origin == "file":
            return f"{s.name} (in {config_file})"
        return s.name

    if cameras:  # the single camera's settings, given at all, are a mistake beside them
        for s in table:
            if s.flag[2:] in SINGLE_CAMERA and origins[s.name] != "default":
                raise refused(label(s.name), s.flag[2:])
    config = build(values, table, label)
    if cameras:  # after the merge: a stream key not given takes the merged value
        assert config_file is not None
        config = replace(config, cameras=build_cameras(cameras, config, table, config_file))
        origins.update(camera_origins(cameras))
    try:
        validate(config)
    except ConfigError as exc:
        if exc.field.startswith("cameras"):
            raise label_camera_error(exc, cameras, config_file, table, label) from None
        raise relabel(exc, table, label) from None
    return Effective(config, origins, config_file)


def relabel(exc: ConfigError, table: Sequence[Setting], label: Any) -> ConfigError:
    """`validate()` names fields like flags without `--`; name them as the user set them."""
    for s in table:
        if s.flag[2:] == exc.field or s.name == exc.field:
            return ConfigError(label(s.name), str(exc).split(": ", 1)[1])
    return exc


def build(values: Mapping[str, Any], table: Sequence[Setting], label: Any = str) -> Config:
    """A `Config` from defaults plus `values` (setting name -> value)."""
    config = Config()
    changes: dict[str, dict[str, Any]] = {}
    for s in table:
        if s.name not in values:
            continue
        changes.setdefault(s.path.rpartition(".")[0], {})[s.path.rpartition(".")[2]] = values[
            s.name
        ]
    rtsp = changes.get("rtsp", {})
    if "users" in rtsp:  # an empty list (as --print-config writes it) means no users
        entries = rtsp["users"]
        rtsp["users"] = (
            tuple(sorted(_users(entries, label("auth.users")).items())) if entries else ()
        )
    source = changes.pop("source", {})
    if source:
        spec = config.source
        if "spec" in source:
            spec = SourceSpec.parse(str(source["spec"]), label("source.spec"))
        config = replace(config, source=replace(spec, loop=source.get("loop", spec.loop)))
    top = changes.pop("", {})
    if "substream" in top:  # "" (as a variable may be set) means none
        text = str(top["substream"]).strip()
        top["substream"] = Substream.parse(text, label("video.substream")) if text else None
    for section, fields_ in changes.items():
        config = replace(config, **{section: replace(getattr(config, section), **fields_)})
    return replace(config, **top) if top else config


def _users(entries: Sequence[str], where: str) -> dict[str, str]:
    """`name:password` entries -> {name: password}; errors never echo a password."""
    return parse_users(",".join(entries), where)


def render(effective: Effective, table: Sequence[Setting] = SETTINGS) -> str:
    """The effective configuration as TOML, secrets masked, each line saying where it came
    from. Feeding the output back with --config gives the same configuration."""
    lines = ["# camera-streaming effective configuration (CLI > environment > file > defaults)"]
    if effective.file:
        lines.append(f"# file: {Path(effective.file)}")
    section = ""
    cameras = effective.config.cameras
    for s in table:
        if s.section != section:
            section = s.section
            lines += ["", f"[{section}]"]
        value = mask(_default(effective.config, s.path), s.secret)
        if value is None:
            lines.append(f"# {s.key} =  (not set)")
        elif cameras and s.flag[2:] in SINGLE_CAMERA:
            lines.append(f"# {s.key} = {toml_value(value)}  (per camera with [[cameras]])")
        else:
            origin = effective.origins.get(s.name, "default")
            lines.append(f"{s.key} = {toml_value(value)}  # {origin}")
    lines += render_cameras(effective.config, effective.origins, table)
    return "\n".join(lines) + "\n"
