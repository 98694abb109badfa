"""Several cameras, each with streams, and --substream: the model's checks (`validate`), every
error naming the field by its place, `cameras[i].streams[j].key`."""

from __future__ import annotations

from dataclasses import replace

import pytest

from camera_streaming.config import (
    Config,
    OutputsConfig,
    RtspConfig,
    SourceSpec,
    Substream,
    VideoConfig,
    validate,
)
from camera_streaming.errors import ConfigError
from support.configs import camera, stream, with_cameras


def error(config: Config) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        validate(config)
    return err.value


def test_two_cameras_with_main_and_sub_streams_are_valid() -> None:
    front = camera(
        "front", "v4l2:/dev/video0",
        stream("/front", 1920, 1080, 25, bitrate_kbps=4000),
        stream("/front/sub", 640, 360, 10, bitrate_kbps=500),
    )  # fmt: skip
    cfg = validate(with_cameras(front, camera("yard", "test", hook="m:f", overlay=True)))
    assert cfg.all_cameras == cfg.cameras
    assert [s.path for s in cfg.all_streams] == ["/front", "/front/sub", "/yard"]
    assert [s.name for s in cfg.all_streams] == ["front", "front/sub", "yard"]
    assert (front.capture.width, front.capture.height, front.capture.fps) == (1920, 1080, 25)


def test_the_camera_rate_and_size_may_be_its_own() -> None:
    cam = camera("c", "test", stream("/a", 640, 360, 15), stream("/b", 1280, 720, 30),
                 width=1280, height=720, fps=30)  # fmt: skip
    validate(with_cameras(cam))
    assert (cam.capture.width, cam.capture.height, cam.capture.fps) == (1280, 720, 30)


def test_duplicate_camera_names() -> None:
    e = error(with_cameras(camera("front"), camera("front", "test", stream("/b"))))
    assert str(e) == "cameras[1].name: 'front' is used by cameras[0]"


@pytest.mark.parametrize("name", ["Front", "a b", "", "cam.1", "caméra", "a/b"])
def test_bad_camera_names(name: str) -> None:
    e = error(with_cameras(camera("ok"), camera(name, "test", stream("/x"))))
    assert e.field == "cameras[1].name" and "lower-case" in str(e)


def test_stream_paths_are_unique_in_the_process() -> None:
    e = error(with_cameras(camera("a", "test", stream("/a")), camera("b", "test", stream("/a"))))
    assert str(e) == "cameras[1].streams[0].path: '/a' is used by cameras[0].streams[0]"
    e = error(with_cameras(camera("a", "test", stream("/a"), stream("/a", 640, 360))))
    assert e.field == "cameras[0].streams[1].path"


@pytest.mark.parametrize("path", ["front", "/", "/a b", "/a/", "//a", "/a//b", "/a?b", "/a#b"])
def test_stream_paths_look_like_paths(path: str) -> None:
    e = error(with_cameras(camera("a", "test", stream(path))))
    assert e.field == "cameras[0].streams[0].path" and "must look like /a" in str(e)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("v4l2:/dev/video0", "v4l2:/dev/video0"),
        ("v4l2:/dev/video0", "v4l2:0"),
        ("v4l2:2", "v4l2:/dev/video2"),
        ("v4l2:/dev/video0", "gst:v4l2src device=/dev/video0 ! jpegdec"),
        ("gst:v4l2src ! videoconvert", "v4l2:0"),
        ("auto", "auto"),
    ],
)
def test_one_device_feeds_one_camera(first: str, second: str) -> None:
    e = error(with_cameras(camera("a", first), camera("b", second)))
    assert e.field == "cameras[1].source"
    assert "cameras[0]" in str(e)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("v4l2:/dev/video0", "v4l2:/dev/video1"),
        ("test", "test"),
        ("file:/tmp/a.mp4", "file:/tmp/a.mp4"),
        ("api", "api"),
        ("auto", "v4l2:/dev/video4"),
        ("gst:videotestsrc", "gst:videotestsrc"),
    ],
)
def test_sources_that_share_no_device(first: str, second: str) -> None:
    validate(with_cameras(camera("a", first), camera("b", second)))


def test_a_stream_faster_than_its_camera() -> None:
    cam = camera("front", "test", stream("/front", fps=25), stream("/front/sub", 640, 360, 30))
    assert str(error(with_cameras(cam))) == (
        "cameras[0].streams[1].fps: 30 is above the camera's 25 fps"
    )
    cam = replace(cam, fps=20)
    assert str(error(with_cameras(cam))) == (
        "cameras[0].streams[0].fps: 25 is above the camera's 20 fps"
    )


def test_a_stream_bigger_than_its_camera() -> None:
    cam = camera("c", "test", stream("/c", 640, 360), stream("/c/big", 1280, 720))
    e = error(with_cameras(cam))
    assert e.field == "cameras[0].streams[1].width" and "bigger than the camera's 640x360" in str(e)


def test_a_camera_without_streams() -> None:
    e = error(with_cameras(replace(camera("c"), streams=())))
    assert e.field == "cameras[0].streams" and "[[cameras.streams]]" in str(e)


@pytest.mark.parametrize(
    ("video", "key"),
    [
        ({"width": 641}, "width"),
        ({"height": 0}, "height"),
        ({"width": 8000}, "width"),
        ({"fps": 0}, "fps"),
        ({"bitrate_kbps": 0}, "bitrate"),
        ({"bitrate_kbps": 10**9}, "bitrate"),
        ({"keyframe_interval_s": 0}, "keyframe_interval"),
        ({"codec": "vp9"}, "codec"),
        ({"encoder": "x 264"}, "encoder"),
        ({"outputs": OutputsConfig(rtmp_url="http://h/a/b")}, "rtmp"),
        ({"outputs": OutputsConfig(publish_url="rtmp://h/cam")}, "publish"),
        ({"outputs": OutputsConfig(save_dir=" ")}, "save"),
        ({"outputs": OutputsConfig(segment_s=0)}, "segment"),
        ({"outputs": OutputsConfig(keep_segments=-1)}, "keep_segments"),
        ({"outputs": OutputsConfig(keep_bytes=-1)}, "keep_bytes"),
    ],
)
def test_each_stream_field_is_checked_under_its_index(video: dict, key: str) -> None:
    kw = {"width": 640, "height": 360, "fps": 10, **video}
    cam = camera("c", "test", stream("/c"), stream("/c/sub", **kw))
    assert error(with_cameras(camera("a"), cam)).field == f"cameras[1].streams[1].{key}"


def test_good_stream_outputs_pass() -> None:
    out = OutputsConfig(rtmp_url="rtmp://h/live/a", save_dir="/rec", publish_url="rtsp://h/a")
    validate(with_cameras(camera("c", "test", stream("/c", outputs=out))))


@pytest.mark.parametrize(
    ("kw", "key", "words"),
    [
        ({"width": 640}, "height", "together"),
        ({"height": 360}, "width", "together"),
        ({"width": 641, "height": 360}, "width", "even"),
        ({"width": 8, "height": 8}, "width", "between"),
        ({"fps": 500}, "fps", "between"),
        ({"hook": "nocolon"}, "hook", "module:function"),
    ],
)
def test_camera_fields(kw: dict, key: str, words: str) -> None:
    e = error(with_cameras(camera("c", "test", stream("/c", 320, 240), **kw)))
    assert e.field == f"cameras[0].{key}" and words in str(e)


@pytest.mark.parametrize("kw", [{"hook": "m:f"}, {"overlay": True}])
def test_a_gst_camera_refuses_hook_and_overlay(kw: dict) -> None:
    e = error(with_cameras(camera("a", "test", **kw), camera("b", "gst:videotestsrc", **kw)))
    assert e.field == "cameras[1].source" and "NumPy source" in str(e)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rtsp": RtspConfig(path="/cam")}, "path"),
        ({"source": SourceSpec.parse("test")}, "source"),
        ({"source": SourceSpec(loop=False)}, "no-loop"),
        ({"hook": "m:f"}, "hook"),
        ({"overlay": True}, "overlay"),
        ({"substream": Substream(640, 360)}, "substream"),
        ({"outputs": OutputsConfig(rtmp_url="rtmp://h/a/b")}, "rtmp"),
        ({"outputs": OutputsConfig(save_dir="/rec")}, "save"),
        ({"outputs": OutputsConfig(publish_url="rtsp://h/a")}, "publish"),
    ],
)
def test_single_camera_settings_are_refused_beside_cameras(changes: dict, field: str) -> None:
    e = error(with_cameras(camera("a"), **changes))
    assert e.field == field and "[[cameras" in str(e)


def test_process_wide_settings_stay_beside_cameras() -> None:
    validate(with_cameras(camera("a"), rtsp=RtspConfig(port=9554, max_clients=4),
                          outputs=OutputsConfig(segment_s=60, keep_segments=5)))  # fmt: skip


def test_no_output_with_cameras_unless_a_stream_has_one() -> None:
    off = RtspConfig(enabled=False)
    assert error(with_cameras(camera("a"), rtsp=off)).field == "rtsp"
    rec = stream("/a", outputs=OutputsConfig(save_dir="/rec"))
    validate(with_cameras(camera("a", "test", rec), rtsp=off))


def test_substream_adds_a_stream_at_path_sub() -> None:
    cfg = validate(replace(Config(), substream=Substream.parse("640x360@10")))
    (cam,) = cfg.all_cameras
    main, sub = cam.streams
    assert (cam.name, main.path, sub.path) == ("camera", "/stream", "/stream/sub")
    assert (sub.video.width, sub.video.height, sub.video.fps, sub.video.bitrate_kbps) == (
        640, 360, 10, 500,
    )  # fmt: skip
    no_rate = replace(Config(), substream=Substream.parse("640x360"))
    assert validate(no_rate).all_streams[1].video.fps == 25


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1920x1080", "bigger than the main stream's 1280x720"),
        ("1280x1080", "bigger"),
        ("640x360@30", "30 fps is above the main stream's 25"),
        ("641x360", "width must be even"),
        ("640x361", "height must be even"),
        ("8x8", "width must be between 16"),
        ("640x360@-1", "fps must be between"),
    ],
)
def test_bad_substream(text: str, words: str) -> None:
    e = error(replace(Config(), substream=Substream.parse(text)))
    assert e.field == "substream" and words in str(e)


@pytest.mark.parametrize("text", ["big", "640", "640x", "x360", "640x360@", "640x360@fast"])
def test_substream_syntax(text: str) -> None:
    with pytest.raises(ConfigError, match="640x360@10"):
        Substream.parse(text)


def test_substream_text_round_trips() -> None:
    assert str(Substream.parse("640X360@10")) == "640x360@10"
    assert str(Substream.parse(" 320x240 ")) == "320x240"


def test_the_single_camera_is_unchanged_without_cameras() -> None:
    cfg = validate(replace(Config(), video=VideoConfig(width=640, height=480), hook="m:f"))
    (cam,) = cfg.all_cameras
    assert (cam.name, cam.hook, cam.source, len(cam.streams)) == ("camera", "m:f", SourceSpec(), 1)
    assert cam.streams[0].video == cfg.video and cam.streams[0].outputs == cfg.outputs
