"""Bad configuration, table-driven: every row must give one line on stderr naming the field, exit
code 2 and no traceback. Rows say where the bad value comes from: `cli`, `env`, or `file` (a
TOML text written to a temporary config file); `run_row()` is the one place that knows how to
feed each kind."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.configs import ONE_CAMERA

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "camera_streaming", "--stats-interval", "5"]
SECRET = "s3cretpw"


@dataclass(frozen=True)
class Row:
    id: str
    where: str  # cli | env | file
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    words: tuple[str, ...] = ()  # must all appear in the error line


def cli(id: str, *args: str, words: tuple[str, ...]) -> Row:
    return Row(id, "cli", args, words=words)


def users(id: str, value: str, *args: str, words: tuple[str, ...]) -> Row:
    return Row(id, "env", args, {"CAMERA_STREAMING_USERS": value}, words)


def env(id: str, name: str, value: str, words: tuple[str, ...]) -> Row:
    return Row(id, "env", (), {name: value}, words)


def toml(id: str, text: str, *args: str, words: tuple[str, ...]) -> Row:
    """A config-file row: `text` is written to FILE and passed as --config FILE."""
    return Row(id, "file", args, {"TOML": text}, words)


CAMERA = ONE_CAMERA

ROWS = [
    cli("width-too-small", "--width", "15", words=("--width", "16")),
    cli("width-too-big", "--width", "7682", words=("--width", "7680")),
    cli("width-odd", "--width", "641", words=("--width", "even")),
    cli("height-zero", "--height", "0", words=("--height",)),
    cli("height-odd", "--height", "481", words=("--height", "even")),
    cli("fps-negative", "--fps", "-5", words=("--fps",)),
    cli("fps-not-int", "--fps", "1.5", words=("--fps",)),
    cli("bitrate-zero", "--bitrate", "0", words=("--bitrate",)),
    cli("bitrate-huge", "--bitrate", "999999999", words=("--bitrate",)),
    cli("keyframe-zero", "--keyframe-interval", "0", words=("--keyframe-interval",)),
    cli("keyframe-huge", "--keyframe-interval", "100", words=("--keyframe-interval",)),
    cli("keyframe-nan", "--keyframe-interval", "nan", words=("--keyframe-interval",)),
    cli("port-negative", "--port", "-1", words=("--port",)),
    cli("port-too-big", "--port", "65536", words=("--port", "65535")),
    cli("path-space", "--path", "/a b", words=("--path",)),
    cli("path-query", "--path", "/x?y", words=("--path",)),
    cli("bind-bad-ip", "--bind", "999.1.1.1", words=("--bind",)),
    cli("bind-empty", "--bind", "", words=("--bind",)),
    cli("max-clients-negative", "--max-clients", "-1", words=("--max-clients",)),
    cli("max-clients-huge", "--max-clients", "10001", words=("--max-clients",)),
    cli("session-timeout-zero", "--session-timeout", "0", words=("--session-timeout",)),
    cli("session-timeout-huge", "--session-timeout", "3601", words=("--session-timeout",)),
    cli("stats-interval-zero", "--stats-interval", "0", words=("--stats-interval",)),
    cli("stall-timeout-tiny", "--stall-timeout", "0.1", words=("--stall-timeout",)),
    cli("stall-timeout-text", "--stall-timeout", "abc", words=("--stall-timeout",)),
    cli("stall-timeout-nan", "--stall-timeout", "nan", words=("--stall-timeout",)),
    cli("retry-max-zero", "--retry-max", "0", words=("--retry-max",)),
    cli("retry-max-huge", "--retry-max", "1000", words=("--retry-max",)),
    cli("auth-unknown", "--auth", "kerberos", words=("--auth", "kerberos")),
    cli("auth-without-users", "--auth", "basic", words=("--auth", "CAMERA_STREAMING_USERS")),
    cli(
        "tls-missing-files",
        "--tls-cert",
        "/nonexistent.pem",
        "--tls-key",
        "/nonexistent.key",
        words=("--tls-cert", "/nonexistent.pem"),
    ),
    cli("tls-cert-without-key", "--tls-cert", "/etc/hostname", words=("--tls-key",)),
    cli("tls-key-without-cert", "--tls-key", "/etc/hostname", words=("--tls-cert",)),
    cli("source-v4l2-no-dev", "--source", "v4l2:video0", words=("--source",)),
    cli("source-file-empty", "--source", "file:", words=("--source",)),
    cli("hook-no-colon", "--hook", "nocolon", words=("--hook",)),
    cli("log-level-unknown", "--log-level", "loud", words=("--log-level",)),
    cli("rtmp-h265", "--codec", "h265", "--rtmp", "rtmp://x/a/b", words=("--rtmp", "H.264 only")),
    users(
        "users-no-password", "alice", "--auth", "basic", words=("CAMERA_STREAMING_USERS", "entry 1")
    ),
    users("users-no-name", ":pw", "--auth", "digest", words=("CAMERA_STREAMING_USERS",)),
    users("users-empty-password", "alice:", "--auth", "basic", words=("CAMERA_STREAMING_USERS",)),
    users(
        "users-twice",
        f"alice:{SECRET},alice:b",
        "--auth",
        "basic",
        words=("CAMERA_STREAMING_USERS", "twice"),
    ),
    users(
        "users-space-in-name",
        f"bad name:{SECRET}",
        "--auth",
        "basic",
        words=("CAMERA_STREAMING_USERS", "entry 1"),
    ),
    users("users-only-commas", ",,", "--auth", "basic", words=("CAMERA_STREAMING_USERS",)),
    users(
        "users-second-bad",
        f"alice:{SECRET},bob",
        "--auth",
        "basic",
        words=("CAMERA_STREAMING_USERS", "entry 2"),
    ),
    env("env-width-text", "CAMERA_STREAMING_WIDTH", "wide", words=("CAMERA_STREAMING_WIDTH",)),
    env("env-fps-too-big", "CAMERA_STREAMING_FPS", "500", words=("CAMERA_STREAMING_FPS", "240")),
    env(
        "env-no-http-maybe",
        "CAMERA_STREAMING_NO_HTTP",
        "maybe",
        words=("CAMERA_STREAMING_NO_HTTP",),
    ),  # fmt: skip
    toml("file-width-odd", "[video]\nwidth = 333\n", words=("video.width", "even")),
    toml("file-fps-string", '[video]\nfps = "fast"\n', words=("video.fps", "whole number")),
    toml("file-unknown-key", "[video]\nwidht = 640\n", words=("video.widht", "unknown")),
    toml("file-unknown-section", "[camera]\nx = 1\n", words=("[camera]", "unknown")),
    toml("file-port-too-big", "[rtsp]\nport = 70000\n", words=("rtsp.port", "65535")),
    toml("file-path-relative", '[rtsp]\npath = "stream"\n', words=("rtsp.path",)),
    toml("file-bad-source", '[source]\nspec = "webcam"\n', words=("source.spec",)),
    toml("file-auth-unknown", '[auth]\nmethod = "kerberos"\n', words=("auth.method",)),
    toml(
        "file-users-no-password",
        '[auth]\nmethod = "basic"\nusers = ["alice"]\n',
        words=("auth.users", "entry 1"),
    ),  # fmt: skip
    toml(
        "file-rtmp-bad-scheme", '[outputs]\nrtmp = "http://x/live/s"\n', words=("outputs.rtmp",)
    ),  # fmt: skip
    toml(
        "file-keep-bytes-bad",
        '[outputs]\nsave = "/tmp"\nkeep_bytes = "lots"\n',
        words=("outputs.keep_bytes",),
    ),  # fmt: skip
    toml(
        "file-rtmp-h265",
        '[video]\ncodec = "h265"\n[outputs]\nrtmp = "rtmp://x/a/b"\n',
        words=("outputs.rtmp", "H.264 only"),
    ),  # fmt: skip
    toml("file-not-toml", "[video\nwidth = 640\n", words=("--config", "not valid TOML")),
    cli("substream-bad", "--substream", "big", words=("--substream", "640x360")),
    cli("substream-bigger", "--substream", "1920x1080", words=("--substream", "bigger")),
    cli("substream-faster", "--substream", "640x360@30", words=("--substream", "above")),
    env("env-substream-odd", "CAMERA_STREAMING_SUBSTREAM", "641x360", words=("SUBSTREAM", "even")),
    toml(
        "cameras-duplicate-name",
        CAMERA + CAMERA.replace("video0", "video1").replace('"/front"', '"/f2"'),
        words=("cameras[1].name", "'front' is used by cameras[0]"),
    ),
    toml("cameras-bad-name", CAMERA.replace('"front"', '"Front"'), words=("cameras[0].name",)),
    toml(
        "cameras-duplicate-path",
        CAMERA + CAMERA.replace("video0", "video1").replace('"front"', '"back"'),
        words=("cameras[1].streams[0].path", "cameras[0].streams[0]"),
    ),
    toml(
        "cameras-relative-path",
        CAMERA.replace('"/front"', '"front"'),
        words=("cameras[0].streams[0].path",),
    ),
    toml(
        "cameras-same-device",
        CAMERA + CAMERA.replace("/dev/video0", "0").replace("front", "back"),
        words=("cameras[1].source", "/dev/video0", "cameras[0]"),
    ),
    toml(
        "cameras-stream-faster",
        CAMERA + '  [[cameras.streams]]\n  path = "/front/sub"\n  fps = 30\n',
        words=("cameras[0].streams[1].fps", "30 is above the camera's 25 fps"),
    ),
    toml(
        "cameras-no-streams",
        '[[cameras]]\nname = "a"\nsource = "test"\n',
        words=("cameras[0].streams", "no streams"),
    ),
    toml(
        "cameras-unknown-key",
        CAMERA + '  [[cameras.streams]]\n  path = "/front/sub"\n  bitrat = 500\n',
        words=("cameras[0].streams[1].bitrat", "unknown key"),
    ),
    toml(
        "cameras-wrong-type",
        CAMERA.replace("fps = 25", 'fps = "25"'),
        words=("cameras[0].streams[0].fps", "whole number"),
    ),
    toml(
        "cameras-odd-width",
        CAMERA.replace("width = 1280", "width = 1281"),
        words=("cameras[0].streams[0].width", "even"),
    ),
    toml(
        "cameras-bad-rtmp",
        CAMERA + '  rtmp = "http://h/live/x"\n',
        words=("cameras[0].streams[0].rtmp",),
    ),
    toml(
        "cameras-gst-hook",
        CAMERA.replace("v4l2:/dev/video0", "gst:videotestsrc").replace(
            'name = "front"', 'name = "front"\nhook = "json:dumps"'
        ),
        words=("cameras[0].source", "NumPy source"),
    ),
    toml(
        "cameras-with-source-flag",
        CAMERA,
        "--source",
        "test",
        words=("--source", "single camera", "[[cameras]]"),
    ),
    toml(
        "cameras-with-substream-flag",
        CAMERA,
        "--substream",
        "640x360",
        words=("--substream", "single camera"),
    ),
    toml(
        "cameras-with-rtsp-path",
        '[rtsp]\npath = "/cam"\n' + CAMERA,
        words=("rtsp.path", "single camera"),
    ),
    toml(
        "cameras-with-outputs-url",
        '[outputs]\nsave = "/tmp/rec"\n' + CAMERA,
        words=("outputs.save", "single camera"),
    ),
    toml(
        "file-http-port-same-as-rtsp", "[http]\nport = 8554\n[rtsp]\nport = 8554\n", words=("http",)
    ),  # fmt: skip
]


def run_row(row: Row, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMERA_STREAMING_")}
    args = list(row.args)
    if row.where == "file":
        path = tmp_path / "camera-streaming.toml"
        path.write_text(row.env["TOML"])
        args += ["--config", str(path)]
    else:
        env.update(row.env)
    port = [] if row.where == "file" and "port" in row.env.get("TOML", "") else ["--port", "1"]
    return subprocess.run([*CLI, *port, *args], capture_output=True, text=True, timeout=30, env=env)


def test_the_table_is_big_enough() -> None:
    assert len(ROWS) >= 30 and len({r.id for r in ROWS}) == len(ROWS)
    assert sum(r.where == "cli" for r in ROWS) >= 30
    assert sum(r.where == "file" for r in ROWS) >= 10


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_is_one_line_naming_the_field(row: Row, tmp_path: Path) -> None:
    out = run_row(row, tmp_path)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    assert len(lines) == 1, out.stderr
    for word in row.words:
        assert word in lines[0], (word, lines[0])
    assert SECRET not in out.stderr + out.stdout  # passwords are never echoed
