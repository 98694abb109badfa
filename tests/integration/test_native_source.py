"""`gst:` sources: GStreamer makes the frames and links them straight into the encoder (no
NumPy, no Python per frame). Real server, real ffmpeg/ffprobe clients."""

from __future__ import annotations

import dataclasses
import time

import pytest

from camera_streaming.config import SourceSpec
from camera_streaming.testing.rtsp_probe import RtspProbe
from support.env import free_port
from support.fakes import decode_frames, ffprobe_stream, make_config, running

pytestmark = pytest.mark.integration


def native_config(port: int, fragment: str = "videotestsrc pattern=ball", **kw: int):  # type: ignore[no-untyped-def]
    cfg = make_config(port, **kw)
    return dataclasses.replace(cfg, source=SourceSpec.parse(f"gst:{fragment}"))


def test_native_source_streams_at_full_rate_without_python_frames(port: int) -> None:
    with running(native_config(port, fps=30)) as streamer:
        url = streamer.config.rtsp.url("127.0.0.1")
        info = ffprobe_stream(url)
        assert (info["codec_name"], info["width"], info["height"]) == ("h264", 320, 240)
        frames = decode_frames(url, 3.0, 320, 240)
        assert len(frames) >= 80, len(frames)  # 3 s at 30 fps, a little slack for start-up
        enc = streamer.encoder
        assert enc is not None
        assert enc.frames_out >= 80
        assert enc.frames_in == 0 and enc.frames_offered == 0  # nothing pushed from Python
        assert streamer.processor is None  # no NumPy frame path at all
        time.sleep(1.5)  # the monitor counts the encoder's frames once a second
        snap = streamer.snapshot()
        assert snap.frames >= 80 and snap.encoded >= 80


@pytest.mark.parametrize(
    ("fragment", "videorate"),
    [
        ("videotestsrc pattern=ball", False),  # delivers 30 fps itself: no frame held
        ("videotestsrc pattern=ball ! video/x-raw,framerate=60/1", True),  # 60 -> 30
    ],
)
def test_native_source_gets_videorate_only_when_its_rate_differs(
    port: int, fragment: str, videorate: bool
) -> None:
    with running(native_config(port, fragment, fps=30)) as streamer:
        enc = streamer.encoder
        assert enc is not None
        assert ("videorate" in enc.launch()) is videorate
        frames = decode_frames(streamer.config.rtsp.url("127.0.0.1"), 3.0, 320, 240)
        assert 80 <= len(frames) <= 100, len(frames)  # 30 fps either way


def test_native_source_encodes_only_while_someone_watches(port: int) -> None:
    with running(native_config(port, fps=30)) as streamer:
        enc = streamer.encoder
        assert enc is not None
        time.sleep(2.5)  # the RTSP server's start opened the gate; the monitor closes it
        idle_from = enc.frames_out
        time.sleep(2.0)
        assert enc.frames_out - idle_from <= 2, "encoding for nobody"
        with RtspProbe(streamer.config.rtsp.url("127.0.0.1")) as probe:
            control = probe.control_url(probe.describe().body)
            probe.setup_tcp(control)
            result = probe.play_until_idr(timeout=3.0)
        assert result.idr_delay is not None and result.idr_delay < 1.0, result
        assert enc.frames_out > idle_from


@pytest.mark.parametrize(
    ("fragment", "words"),
    [
        ("nosuchelement", ["nosuchelement"]),
        ("v4l2src device=/dev/video99", ["/dev/video99"]),
    ],
)
def test_bad_native_source_is_a_source_error(port: int, fragment: str, words: list[str]) -> None:
    from camera_streaming.errors import SourceError
    from camera_streaming.service import Streamer

    streamer = Streamer(native_config(port, fragment), log_stats=False)
    with pytest.raises(SourceError) as info:
        streamer.start()
    for w in words:
        assert w in str(info.value)


def test_native_source_records_without_rtsp_clients(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An output is a consumer from the start: it opens the gate with nobody watching RTSP."""
    from camera_streaming.config import OutputsConfig
    from camera_streaming.gst.outputs.record import segment_files
    from support.peers import decodable_frames

    rec = tmp_path / "rec"
    cfg = native_config(free_port(), fps=30)
    cfg = dataclasses.replace(
        cfg,
        outputs=OutputsConfig(save_dir=str(rec)),
        rtsp=dataclasses.replace(cfg.rtsp, enabled=False),
    )
    with running(cfg) as streamer:
        time.sleep(3.5)  # long enough for the monitor to have closed an unwanted gate twice
        assert streamer.encoder is not None and streamer.encoder.frames_out >= 80
    (segment,) = segment_files(rec)
    assert decodable_frames(segment) >= 80
