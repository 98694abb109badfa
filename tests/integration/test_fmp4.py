"""The hand-written fragmented MP4 read back by ffprobe: x264's access units from GStreamer,
one fragment each, decode as the frames they were."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from camera_streaming.gst.runtime import Gst, init
from camera_streaming.web.mse import fmp4

pytestmark = pytest.mark.integration


def access_units(n: int, width: int, height: int) -> list[tuple[bytes, bool]]:
    init()
    pipeline = Gst.parse_launch(
        f"videotestsrc num-buffers={n} ! video/x-raw,format=I420,width={width},height={height},"
        "framerate=30/1 ! x264enc tune=zerolatency speed-preset=superfast key-int-max=10 "
        "! h264parse config-interval=-1 "
        "! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    out = []
    while True:
        sample = sink.emit("try-pull-sample", 5 * Gst.SECOND)
        if sample is None:
            break
        buf = sample.get_buffer()
        out.append(
            (buf.extract_dup(0, buf.get_size()), not buf.has_flags(Gst.BufferFlags.DELTA_UNIT))
        )
    pipeline.set_state(Gst.State.NULL)
    return out


def test_ffprobe_reads_every_fragment(tmp_path: Path) -> None:
    aus = access_units(45, 320, 240)
    units = fmp4.nal_units(aus[0][0])
    params = fmp4.parameter_sets(units)
    assert params is not None and aus[0][1]
    sps, pps = params
    assert fmp4.codec_string(sps).startswith("avc1.64")  # x264: High
    data = fmp4.init_segment(sps, pps, 320, 240)
    for i, (au, key) in enumerate(aus):
        sample = fmp4.avcc_sample(fmp4.nal_units(au))
        data += fmp4.fragment(i + 1, 1_000_000 + i * 3000, 3000, sample, key)
    path = tmp_path / "live.mp4"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v",
         "-show_entries", "stream=codec_name,width,height,nb_read_frames,avg_frame_rate",
         "-of", "json", str(path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0 and not out.stderr, out.stderr
    stream = json.loads(out.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 240)
    assert int(stream["nb_read_frames"]) == len(aus) == 45
    assert stream["avg_frame_rate"] == "30/1"


def test_nal_units_split_on_both_start_codes() -> None:
    au = b"\x00\x00\x00\x01\x09\xf0" + b"\x00\x00\x01\x67\x64\x00\x1f" + b"\x00\x00\x01\x65\x88"
    assert fmp4.nal_units(au) == [b"\x09\xf0", b"\x67\x64\x00\x1f", b"\x65\x88"]
    assert fmp4.avcc_sample(fmp4.nal_units(au)) == (
        b"\x00\x00\x00\x04\x67\x64\x00\x1f" + b"\x00\x00\x00\x02\x65\x88"
    )  # the access unit delimiter is left out
