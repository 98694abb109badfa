"""`[[cameras]]` in the TOML file and `--substream`: reading the tables, inheriting the merged
process-wide values, refusing single-camera settings beside cameras, and errors named the way
the user wrote the field."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from camera_streaming.config import Substream
from camera_streaming.config.layers import add_flags, load
from camera_streaming.errors import ConfigError
from support.configs import ONE_CAMERA, TWO_CAMERAS, write_toml

CAMERA = ONE_CAMERA


def load_error(tmp_path: Path, text: str, cli: dict | None = None, env: dict | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        load(cli or {}, env or {}, write_toml(tmp_path, text))
    return str(err.value)


def test_two_cameras_from_the_file(tmp_path: Path) -> None:
    c = load({}, {}, write_toml(tmp_path, TWO_CAMERAS)).config
    front, yard = c.cameras
    assert (front.name, str(front.source), front.hook, front.overlay) == (
        "front", "v4l2:/dev/video0", "mypkg.detect:draw", False,
    )  # fmt: skip
    assert (yard.name, yard.source.kind, yard.overlay, yard.hook) == ("yard", "test", True, None)
    main, sub = front.streams
    assert (main.path, main.video.width, main.video.fps, main.video.bitrate_kbps) == (
        "/front", 1920, 25, 4000,
    )  # fmt: skip
    assert (sub.path, sub.video.width, sub.video.height, sub.video.fps) == (
        "/front/sub",
        640,
        360,
        10,
    )
    assert sub.outputs.save_dir == "/var/lib/camera-streaming/front-sub"
    assert main.outputs.save_dir is None
    assert c.all_cameras == c.cameras and len(c.all_streams) == 3


def test_stream_keys_not_given_come_from_the_merged_process_wide_values(tmp_path: Path) -> None:
    text = TWO_CAMERAS.replace("[video]", "[outputs]\nsegment = 60.0\nkeep_segments = 9\n[video]")
    env = {"CAMERA_STREAMING_CODEC": "h265"}
    c = load({"video.bitrate": 3000}, env, write_toml(tmp_path, text)).config
    front, yard = c.cameras
    (only,) = yard.streams
    assert only.video == c.video  # everything from [video], --bitrate and the environment
    assert (only.video.bitrate_kbps, only.video.encoder, only.video.codec) == (
        3000,
        "x264enc",
        "h265",
    )
    assert front.streams[0].video.bitrate_kbps == 4000  # its own
    assert front.streams[0].video.encoder == "x264enc" and front.streams[0].video.codec == "h265"
    assert front.streams[0].video.keyframe_interval_s == 2.0
    assert (only.outputs.segment_s, only.outputs.keep_segments) == (60.0, 9)
    assert front.streams[1].outputs.segment_s == 60.0


def test_stream_keys_of_every_kind(tmp_path: Path) -> None:
    text = (
        CAMERA
        + """  keyframe_interval = 0.5
  encoder = "openh264enc"
  codec = "h264"
  bitrate = 1500
  rtmp = "rtmp://h/live/front"
  publish = "rtsp://h/front"
  save = "/rec"
  segment = 30
  keep_segments = 4
  keep_bytes = "1G"
"""
    )
    (s,) = load({}, {}, write_toml(tmp_path, text)).config.cameras[0].streams
    assert (s.video.keyframe_interval_s, s.video.encoder, s.video.bitrate_kbps) == (
        0.5, "openh264enc", 1500,
    )  # fmt: skip
    o = s.outputs
    assert (o.rtmp_url, o.publish_url, o.save_dir) == (
        "rtmp://h/live/front",
        "rtsp://h/front",
        "/rec",
    )
    assert (o.segment_s, o.keep_segments, o.keep_bytes) == (30.0, 4, 1 << 30)


def test_camera_keys(tmp_path: Path) -> None:
    text = CAMERA.replace(
        'source = "v4l2:/dev/video0"', 'source = "file:/clips/a.mp4"\nloop = false'
    )
    text = text.replace('name = "front"', 'name = "front"\nwidth = 1920\nheight = 1080\nfps = 30')
    (cam,) = load({}, {}, write_toml(tmp_path, text)).config.cameras
    assert (cam.source.kind, cam.source.location, cam.source.loop) == (
        "file",
        "/clips/a.mp4",
        False,
    )
    assert (cam.width, cam.height, cam.fps, cam.capture.fps) == (1920, 1080, 30, 30)


def test_origins_name_the_camera_keys_given(tmp_path: Path) -> None:
    e = load({}, {}, write_toml(tmp_path, TWO_CAMERAS))
    assert e.origins["cameras[0].name"] == "file"
    assert e.origins["cameras[0].streams[1].bitrate"] == "file"
    assert "cameras[1].streams[0].bitrate" not in e.origins


@pytest.mark.parametrize(
    ("where", "name", "value", "label"),
    [
        ("file", "rtsp", 'path = "/cam"', "rtsp.path (in "),
        ("file", "rtsp", 'path = "/stream"', "rtsp.path (in "),  # set, even to the default
        ("file", "source", 'spec = "test"', "source.spec (in "),
        ("file", "source", "loop = false", "source.loop (in "),
        ("file", "video", 'hook = "m:f"', "video.hook (in "),
        ("file", "video", "overlay = true", "video.overlay (in "),
        ("file", "video", 'substream = "640x360"', "video.substream (in "),
        ("file", "outputs", 'rtmp = "rtmp://h/a/b"', "outputs.rtmp (in "),
        ("file", "outputs", 'save = "/rec"', "outputs.save (in "),
        ("file", "outputs", 'publish = "rtsp://h/a"', "outputs.publish (in "),
        ("cli", "source.spec", "test", "--source"),
        ("cli", "video.hook", "m:f", "--hook"),
        ("cli", "video.overlay", True, "--overlay"),
        ("cli", "video.substream", "640x360@10", "--substream"),
        ("cli", "rtsp.path", "/cam", "--path"),
        ("cli", "source.loop", False, "--no-loop"),
        ("cli", "outputs.save", "/rec", "--save"),
        ("env", "CAMERA_STREAMING_SOURCE", "test", "CAMERA_STREAMING_SOURCE"),
        ("env", "CAMERA_STREAMING_SUBSTREAM", "640x360", "CAMERA_STREAMING_SUBSTREAM"),
        ("env", "CAMERA_STREAMING_RTMP", "rtmp://h/a/b", "CAMERA_STREAMING_RTMP"),
    ],
)
def test_single_camera_settings_given_beside_cameras_are_refused(
    tmp_path: Path, where: str, name: str, value: object, label: str
) -> None:
    text, cli, env = CAMERA, {}, {}
    if where == "file":
        text = f"[{name}]\n{value}\n{CAMERA}"
    elif where == "cli":
        cli = {name: value}
    else:
        env = {name: str(value)}
    message = load_error(tmp_path, text, cli, env)
    assert message.startswith(label) and "describes the single camera" in message, message


def test_process_wide_settings_are_fine_beside_cameras(tmp_path: Path) -> None:
    env = {"CAMERA_STREAMING_PORT": "9554", "CAMERA_STREAMING_STALL_TIMEOUT": "3"}
    text = "[outputs]\nsegment = 60.0\n[rtsp]\nmax_clients = 4\n" + CAMERA
    c = load({"video.bitrate": 1000, "http.port": 9080}, env, write_toml(tmp_path, text)).config
    assert c.rtsp.port == 9554 and c.cameras[0].streams[0].video.bitrate_kbps == 1000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CAMERA + CAMERA.replace("video0", "video1").replace('"/front"', '"/f2"'),
         "cameras[1].name (in {f}): 'front' is used by cameras[0]"),
        (CAMERA + '  [[cameras.streams]]\n  path = "/front/sub"\n  fps = 30\n',
         "cameras[0].streams[1].fps (in {f}): 30 is above the camera's 25 fps"),
        (CAMERA.replace("  fps = 25\n", "").replace('"front"', '"front"\nfps = 10'),
         "cameras[0].streams[0].fps (inherited from video.fps): 25 is above the camera's 10 fps"),
        (CAMERA + '  [[cameras.streams]]\n  path = "/front/sub"\n  bitrat = 3\n',
         "cameras[0].streams[1].bitrat: unknown key in {f} (known: path, width, height, fps, "
         "bitrate, keyframe_interval, encoder, codec, rtmp, save, segment, keep_segments, "
         "keep_bytes, publish)"),
        (CAMERA.replace('name = "front"', 'name = "front"\ncolour = "red"'),
         "cameras[0].colour: unknown key in {f} (known: name, source, hook, overlay, loop, "
         "width, height, fps, streams)"),
        (CAMERA.replace("fps = 25", 'fps = "fast"'),
         "cameras[0].streams[0].fps (in {f}): must be a whole number, got 'fast'"),
        (CAMERA.replace('name = "front"', 'name = "front"\noverlay = "yes"'),
         "cameras[0].overlay (in {f}): must be true or false, got 'yes'"),
        (CAMERA.replace("width = 1280", "width = 641"),
         "cameras[0].streams[0].width (in {f}): must be even for I420 (got 641x720)"),
        (CAMERA + '  keep_bytes = "lots"\n',
         "cameras[0].streams[0].keep_bytes (in {f}): must be a whole number, got 'lots'"),
        (CAMERA + '  rtmp = "http://h/a/b"\n',
         "cameras[0].streams[0].rtmp (in {f}): must look like rtmp://HOST[:PORT]/APP/STREAM, "
         "got 'http://h/a/b'"),
        (CAMERA.replace("v4l2:/dev/video0", "webcam"), "cameras[0].source (in {f}): 'webcam' is"),
        (CAMERA + CAMERA.replace('"front"', '"back"').replace('"/front"', '"/back"')
         .replace("/dev/video0", "0"), "cameras[1].source (in {f}): 'v4l2:0' opens /dev/video0"),
        ('[[cameras]]\nname = "a"\nsource = "test"\n',
         "cameras[0].streams (in {f}): no streams"),
        ('[[cameras]]\nsource = "test"\n[[cameras.streams]]\npath = "/a"\n',
         "cameras[0].name: missing in {f}"),
        ('[[cameras]]\nname = "a"\n[[cameras.streams]]\nwidth = 640\n',
         "cameras[0].streams[0].path: missing in {f}"),
        ('[cameras]\nname = "a"\n', "cameras: must be an array of tables ([[cameras]]) in {f}"),
        ('[[cameras]]\nname = "a"\n[cameras.streams]\npath = "/a"\n',
         "cameras[0].streams: must be an array of tables ([[cameras.streams]]) in {f}"),
        ("[rtsp]\nenabled = false\n" + CAMERA, "rtsp: no output enabled"),
    ],
)  # fmt: skip
def test_camera_errors_are_one_line_naming_the_indexed_key(
    tmp_path: Path, text: str, message: str
) -> None:
    f = write_toml(tmp_path, text)
    assert load_error(tmp_path, text).startswith(message.format(f=f))


def test_without_cameras_the_file_behaves_as_before(tmp_path: Path) -> None:
    e = load(
        {},
        {},
        write_toml(tmp_path, '[video]\nwidth = 640\nheight = 360\n[source]\nspec = "test"\n'),
    )
    (cam,) = e.config.all_cameras
    assert e.config.cameras == () and cam.streams[0].video.width == 640
    with pytest.raises(ConfigError, match=r"\[\[cameras\]\]"):
        load({}, {}, write_toml(tmp_path, "[camera]\nx = 1\n"))


def test_substream_flag_variable_and_key(tmp_path: Path) -> None:
    p = argparse.ArgumentParser()
    add_flags(p)
    assert vars(p.parse_args(["--substream", "640x360@10"])) == {"video.substream": "640x360@10"}
    assert load({"video.substream": "640x360@10"}, {}).config.substream == Substream(640, 360, 10)
    env = {"CAMERA_STREAMING_SUBSTREAM": "320x240"}
    assert load({}, env).config.substream == Substream(320, 240)
    assert load({}, {"CAMERA_STREAMING_SUBSTREAM": ""}).config.substream is None
    f = write_toml(tmp_path, '[video]\nsubstream = "480x270@5"\n')
    c = load({}, {}, f).config
    assert c.substream == Substream(480, 270, 5)
    assert [s.path for s in c.all_streams] == ["/stream", "/stream/sub"]


@pytest.mark.parametrize(
    ("value", "words"),
    [("big", "must look like 640x360"), ("1920x1080", "bigger"), ("640x360@30", "above")],
)
def test_substream_errors_name_the_flag_variable_or_key(
    tmp_path: Path, value: str, words: str
) -> None:
    with pytest.raises(ConfigError, match=f"^--substream: .*{words}"):
        load({"video.substream": value}, {})
    with pytest.raises(ConfigError, match=f"^CAMERA_STREAMING_SUBSTREAM: .*{words}"):
        load({}, {"CAMERA_STREAMING_SUBSTREAM": value})
    f = write_toml(tmp_path, f'[video]\nsubstream = "{value}"\n')
    with pytest.raises(ConfigError, match=rf"^video.substream \(in .*{words}"):
        load({}, {}, f)
