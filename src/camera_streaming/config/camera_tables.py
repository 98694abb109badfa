"""`[[cameras]]` in the TOML file: reading the tables (keys and types checked, each named by its
place, `cameras[0].streams[1].bitrate`), building `CameraConfig`s once every layer is merged,
and writing them back for `--print-config`.

A stream key that is not given takes the merged process-wide value (`[video] bitrate`,
`--encoder`, `[outputs] segment`, ...), except `rtmp`, `save` and `publish`: a stream has only
the outputs its own table names. Pure: no gi or cv2."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Callable

from ..errors import ConfigError
from .model import CameraConfig, Config, OutputsConfig, SourceSpec, StreamConfig, VideoConfig
from .values import Setting, check_type, mask, toml_value

CAMERA_KEYS: dict[str, type] = {
    "name": str,
    "source": str,
    "hook": str,
    "overlay": bool,
    "loop": bool,
    "width": int,
    "height": int,
    "fps": int,
}
PER_STREAM_ONLY = ("rtmp", "save", "publish")  # [outputs] keys a stream does not inherit
NOT_PER_STREAM = ("overlay", "hook", "substream")  # [video] keys of a camera or the process
_FIELD = re.compile(r"cameras\[(\d+)\]\.streams\[(\d+)\]\.(\w+)$")

RawCamera = dict[str, Any]  # one [[cameras]] table, type-checked; "streams": list of dicts


def stream_rows(table: Sequence[Setting]) -> dict[str, Setting]:
    """The `[video]` and `[outputs]` settings a `[[cameras.streams]]` table may set, by key."""
    return {
        s.key: s for s in table if s.section in ("video", "outputs") and s.key not in NOT_PER_STREAM
    }


def _rows(types: Mapping[str, type]) -> dict[str, Setting]:
    return {key: Setting("cameras", key, key, kind, "") for key, kind in types.items()}


def _is_tables(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(x, dict) for x in value)


def _read(
    body: Mapping[str, Any], at: str, rows: Mapping[str, Setting], where: str, *also: str
) -> RawCamera:
    """The keys of one table, type-checked; keys in `also` are read by the caller."""
    out: RawCamera = {}
    for key, value in body.items():
        row = rows.get(key)
        if key in also:
            continue
        if row is None:
            known = ", ".join([*rows, *also])
            raise ConfigError(f"{at}.{key}", f"unknown key in {where} (known: {known})")
        out[key] = check_type(row, value, f"{at}.{key} (in {where})")
    return out


def read_cameras(data: object, where: str, table: Sequence[Setting]) -> tuple[RawCamera, ...]:
    """The `[[cameras]]` tables of a file, each key known and of its type."""
    if not _is_tables(data):
        raise ConfigError("cameras", f"must be an array of tables ([[cameras]]) in {where}")
    assert isinstance(data, list)
    camera_rows = _rows(CAMERA_KEYS)
    stream_keys = {"path": _rows({"path": str})["path"], **stream_rows(table)}
    cameras = []
    for i, body in enumerate(data):
        at = f"cameras[{i}]"
        tables = body.get("streams", [])
        if not _is_tables(tables):
            raise ConfigError(
                f"{at}.streams", f"must be an array of tables ([[cameras.streams]]) in {where}"
            )
        cam = _read(body, at, camera_rows, where, "streams")
        if "name" not in cam:
            raise ConfigError(f"{at}.name", f"missing in {where}: every camera needs a name")
        streams = []
        for j, stream in enumerate(tables):
            st = _read(stream, f"{at}.streams[{j}]", stream_keys, where)
            if "path" not in st:
                raise ConfigError(
                    f"{at}.streams[{j}].path",
                    f"missing in {where}: every stream needs its RTSP path, e.g. /{cam['name']}",
                )
            streams.append(st)
        cameras.append({**cam, "streams": streams})
    return tuple(cameras)


def build_cameras(
    raw: Sequence[RawCamera], config: Config, table: Sequence[Setting], where: str
) -> tuple[CameraConfig, ...]:
    """`CameraConfig`s from the tables; stream keys not given come from the merged `config`."""
    rows = stream_rows(table)
    own: dict[str, Any] = {
        rows[k].path.partition(".")[2]: None for k in PER_STREAM_ONLY if k in rows
    }
    outputs = replace(config.outputs, **own)
    cameras = []
    for i, cam in enumerate(raw):
        source = SourceSpec.parse(cam.get("source", "auto"), f"cameras[{i}].source (in {where})")
        if "loop" in cam:
            source = replace(source, loop=cam["loop"])
        streams = tuple(_stream(st, config.video, outputs, rows) for st in cam["streams"])
        cameras.append(
            CameraConfig(
                name=cam["name"],
                source=source,
                streams=streams,
                hook=cam.get("hook"),
                overlay=cam.get("overlay", False),
                width=cam.get("width", 0),
                height=cam.get("height", 0),
                fps=cam.get("fps", 0),
            )  # fmt: skip
        )
    return tuple(cameras)


def _stream(
    st: Mapping[str, Any], video: VideoConfig, outputs: OutputsConfig, rows: Mapping[str, Setting]
) -> StreamConfig:
    changes: dict[str, dict[str, Any]] = {"video": {}, "outputs": {}}
    for key, value in st.items():
        if key != "path":
            section, _, attr = rows[key].path.partition(".")
            changes[section][attr] = value
    return StreamConfig(
        st["path"], replace(video, **changes["video"]), replace(outputs, **changes["outputs"])
    )


def camera_origins(raw: Sequence[RawCamera]) -> dict[str, str]:
    """`cameras[0].name`, `cameras[0].streams[1].bitrate`, ...: "file" for each key given."""
    out = {}
    for i, cam in enumerate(raw):
        out.update({f"cameras[{i}].{key}": "file" for key in cam if key != "streams"})
        for j, st in enumerate(cam["streams"]):
            out.update({f"cameras[{i}].streams[{j}].{key}": "file" for key in st})
    return out


def label_camera_error(
    exc: ConfigError,
    raw: Sequence[RawCamera],
    where: str | None,
    table: Sequence[Setting],
    label: Callable[[str], str],
) -> ConfigError:
    """Name a `[[cameras]]` field from `validate()` the way it was set: `(in FILE)`, or, for a
    stream key its table does not give, the process-wide setting it inherited."""
    message = str(exc)[len(exc.field) + 2 :]
    m = _FIELD.match(exc.field)
    if m:
        i, j, key = int(m.group(1)), int(m.group(2)), m.group(3)
        row = stream_rows(table).get(key)
        given = i < len(raw) and j < len(raw[i]["streams"]) and key in raw[i]["streams"][j]
        if row is not None and not given:
            return ConfigError(f"{exc.field} (inherited from {label(row.name)})", message)
    return ConfigError(f"{exc.field} (in {where})" if where else exc.field, message)


def _line(key: str, value: Any, note: str, indent: str = "") -> str:
    if value is None:
        return f"{indent}# {key} =  (not set)"
    return f"{indent}{key} = {toml_value(mask(value, False))}  # {note}"


def render_cameras(
    config: Config, origins: Mapping[str, str], table: Sequence[Setting]
) -> list[str]:
    """`[[cameras]]` and `[[cameras.streams]]` tables, after every other section. A stream key
    its table does not give is shown commented out, with the section it is inherited from."""
    rows = stream_rows(table)
    lines: list[str] = []
    for i, cam in enumerate(config.cameras):
        at = f"cameras[{i}]"
        lines += ["", "[[cameras]]"]
        values = {
            "name": cam.name, "source": str(cam.source), "hook": cam.hook,
            "overlay": cam.overlay, "loop": cam.source.loop, "width": cam.width or None,
            "height": cam.height or None, "fps": cam.fps or None,
        }  # fmt: skip
        for key, value in values.items():
            lines.append(_line(key, value, origins.get(f"{at}.{key}", "default")))
        for j, stream in enumerate(cam.streams):
            sat = f"{at}.streams[{j}]"
            lines += ["", "  [[cameras.streams]]"]
            lines.append(_line("path", stream.path, origins.get(f"{sat}.path", "default"), "  "))
            for key, row in rows.items():
                section, _, attr = row.path.partition(".")
                value = getattr(stream.video if section == "video" else stream.outputs, attr)
                origin = origins.get(f"{sat}.{key}")
                if origin is None and key not in PER_STREAM_ONLY:
                    lines.append(f"  # {_line(key, value, f'inherited from [{section}]')}")
                else:
                    lines.append(_line(key, value, origin or "default", "  "))
    return lines
