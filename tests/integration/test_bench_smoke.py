"""The benchmarks in miniature, so they do not rot: builds the C baseline, runs every bench
function once with tiny sizes and short windows, and renders the report. Figures are not
checked (benchmarks are not tests); only that each measurement produces sane numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import __main__ as bench_main
from bench import measure, report
from bench.servers import (
    C_BASELINE,
    CRASHES,
    OURS,
    OURS_CAMERAS,
    OURS_NATIVE,
    OURS_NATIVE_SHARED,
    SUB_ENCODE,
    Layout,
    Video,
    build_c_baseline,
)

pytestmark = pytest.mark.integration
TINY = Video(320, 240, 30)
TINY_SUB = Video(160, 120, 10, 500)


def test_bench_smoke(tmp_path: Path) -> None:
    assert build_c_baseline().exists()
    loads = []
    for kind in (C_BASELINE, OURS, OURS_NATIVE, OURS_NATIVE_SHARED):
        loads += measure.fanout(kind, TINY, (1,), window_s=1.0, settle_s=0.5, progress=print)
    assert all(x.cpu_pct > 0 and x.rss_mb > 0 and x.fps_min > 10 for x in loads)

    joins = {OURS: measure.join_times(OURS, TINY, tries=1, idle_gap_s=0.2, progress=print)}
    assert 0 < joins[OURS].after_idle[0] < 5 and 0 < joins[OURS].late[0] < 5

    lat = measure.latency(OURS, TINY, seconds=0.5, progress=print)
    assert {r.client for r in lat} == {"gst", "ffmpeg"} and all(r.samples_ms for r in lat)

    from bench.ceiling import frame_path_fps, raw_encoder_fps

    from camera_streaming.config import VideoConfig

    cfg = VideoConfig(width=320, height=240, fps=30)
    ours, raw = frame_path_fps(cfg, 25, warmup=5), raw_encoder_fps(cfg, 25, warmup=5)
    assert ours > 0 and raw > 0

    rows = report.fanout_rows(loads, TINY) + report.join_rows(joins)
    rows += report.latency_rows(lat) + report.ceiling_rows("320x240", [ours], [raw])
    assert "ratio" in report.text_table(rows)
    out = tmp_path / "benchmarks.md"
    bench_main.write_doc(out, {"cpu": rows}, ["--quick"], "today", "0 / 0")
    text = out.read_text()
    assert "| CPU |" in text and "## Findings" in text
    assert "ours-native / c-baseline" in text  # the no-hook path is compared with C


def test_bench_cameras_smoke(tmp_path: Path) -> None:
    """The cameras section's three groups at tiny sizes: every stream's client gets frames,
    the launchers stop cleanly, and a cameras-only page keeps the other table."""
    groups = (
        [measure.Setup(report.A, OURS_CAMERAS, TINY, Layout(2, TINY_SUB))],
        [measure.Setup(report.B1, OURS, TINY), measure.Setup(report.B2, OURS, TINY)],
        [
            measure.Setup(report.C, OURS_CAMERAS, TINY, Layout(1, TINY_SUB)),
            measure.Setup(report.B3, OURS, TINY),
            measure.Setup(report.S, SUB_ENCODE, TINY, Layout(1, TINY_SUB)),
        ],
    )
    crashes = len(CRASHES)
    got = []
    for group in groups:
        got += measure.footprints(group, window_s=1.0, settle_s=0.5, progress=print)
    assert CRASHES[crashes:] == []  # every server exited cleanly on SIGTERM
    by = {f.name: f for f in got}
    assert len(by[report.A].fps) == 4 and len(by[report.C].fps) == 2 and not by[report.S].fps
    for f in got:
        # S (160x120@10, no client) needs a few ms of CPU a second: in a 1 s window that can
        # be under the 10 ms clock tick the CPU times count in, so it may read 0.
        assert (f.cpu_s > 0 or f.name == report.S) and f.rss_mb > 0, f
        assert all(fps > 0.5 * want for fps, want in zip(f.fps, f.expected_fps)), f
    rows = report.cameras_rows([got], 1.0, TINY, TINY_SUB)
    assert any(r.target == "<= 1.2" for r in rows) and any(r.target == "<= 1.1" for r in rows)

    out = tmp_path / "benchmarks.md"
    main_row = report.Row("ceiling", "a main-table figure", "1", "1", 1.0, "", "")
    bench_main.write_doc(out, {"ceiling": [main_row]}, [], "day 1", "0 / 0")
    bench_main.write_doc(out, {"cameras": rows}, ["--only", "cameras"], "day 2", "0 / 0")
    text = out.read_text()
    assert "a main-table figure" in text and "(`python -m bench`) on day 1." in text
    assert "`python -m bench --only cameras` on day 2" in text and "| cameras |" in text
    bench_main.write_doc(out, {"ceiling": [main_row]}, [], "day 3", "0 / 0")
    assert "| cameras |" in out.read_text()  # and the other way round


def test_bench_arguments() -> None:
    args = bench_main.parse_args(["--quick", "--only", "cpu"])
    assert args.only == ["cpu"] and args.clients == [1, 2] and args.rounds == 1
    args = bench_main.parse_args(["--quick", "--only", "cameras"])
    assert args.cameras_size == "320x240" and args.cameras_rounds == 1


def test_bench_memory_reads_this_process() -> None:
    from bench.smaps import group_mappings, read_mem, read_smaps, thread_stacks

    mem = read_mem()
    assert 0 < mem.anon <= mem.uss <= mem.rss and 0 < mem.pss <= mem.rss
    groups = group_mappings(read_smaps(), thread_stacks())
    total_mb = sum(row[0] for row in groups.values()) / 1024
    assert abs(total_mb - mem.rss) < 0.1 * mem.rss + 2, (total_mb, mem.rss)
    assert "Python (interpreter and stdlib extensions)" in groups


def test_bench_mse_smoke(tmp_path: Path) -> None:
    """The MSE section at a tiny size: Chromium plays and reads latency, the CPU of 1 and 2
    viewers is read with every viewer at full rate, the rows render, and the page keeps the
    other tables."""
    from bench import mse

    run = mse.latency_run(TINY, 0.1, print)
    assert run.first_ms and run.last_ms and run.fps > 10 and run.buffered_max_s < 10
    cpu = mse.viewers_cpu(TINY, (1, 2), 1.0, 1, print)
    assert [x.viewers for x in cpu] == [1, 2]
    assert all(x.cpu_pct > 0 and x.fps_min > 15 for x in cpu), cpu
    rows = mse.rows(run, cpu, TINY)
    assert any(r.target == "<= 1.3" for r in rows) and any("p95 drift" in r.case for r in rows)

    out = tmp_path / "benchmarks.md"
    main_row = report.Row("ceiling", "a main-table figure", "1", "1", 1.0, "", "")
    bench_main.write_doc(out, {"ceiling": [main_row]}, [], "day 1", "0 / 0")
    bench_main.write_doc(out, {"mse": rows}, ["--only", "mse"], "day 2", "0 / 0")
    text = out.read_text()
    assert "a main-table figure" in text and "## Browsers over MSE" in text
    assert "`python -m bench --only mse` on day 2" in text and "| mse |" in text
    assert "(not run yet: `python -m bench --only cameras`)" in text


def test_bench_webrtc_smoke(tmp_path: Path) -> None:
    """The webrtc section at a tiny size: Chromium reads capture times off the picture, the
    CPU of 1 and 16 aiortc viewers is sampled, aiortc times its first frames; a webrtc-only
    page keeps the other tables."""
    from bench.webrtc import webrtc_rows

    rows = webrtc_rows(TINY, latency_s=1.0, window=1.0, rounds=1, joins=2, progress=print,
                       settle=0.5)  # fmt: skip
    assert [r.section for r in rows] == ["webrtc"] * 3
    latency, cpu, first = rows
    assert 0 < float(latency.ours.split()[0]) < 1000, latency
    assert cpu.ratio is not None and cpu.ratio > 0.5, cpu
    assert 0 < float(first.ours.split()[0]) < 5, first
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\n## Several cameras in one process\n\nold cameras table\n")
    bench_main.write_doc(out, {"webrtc": rows}, ["--only", "webrtc"], "today", "0 / 0")
    text = out.read_text()
    assert "## WebRTC viewers" in text and "glass-to-glass" in text
    assert "old cameras table" in text
