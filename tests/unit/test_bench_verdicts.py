"""Which C server judges which of ours in the bench's CPU rows: the one encoding the same
pictures. The others' ratios are shown without a verdict."""

from __future__ import annotations

from bench import report
from bench.measure import Load
from bench.servers import (
    C_BASELINE,
    C_PATTERN,
    NAIVE_APPSRC,
    OURS_NATIVE_SHARED,
    OURS_SHARED,
    Video,
)


def _load(kind: str, cpu: float) -> Load:
    return Load(kind, 1, cpu, 50.0, 30.0, 30.0)


def test_cpu_rows_judge_against_the_same_pictures() -> None:
    loads = [
        _load(C_BASELINE, 10.0),
        _load(C_PATTERN, 12.0),
        _load(NAIVE_APPSRC, 13.0),
        _load(OURS_SHARED, 13.0),  # 1.30x the ball, 1.08x the same pictures
        _load(OURS_NATIVE_SHARED, 11.0),  # 1.10x the ball: the same pictures, judged
    ]
    rows = {
        r.case.split(", ", 1)[1]: r
        for r in report.fanout_rows(loads, Video(320, 240, 30))
        if r.section == "CPU"
    }
    assert rows[f"{OURS_SHARED} / {C_PATTERN}"].verdict == "met"
    assert rows[f"{OURS_SHARED} / {C_BASELINE}"].verdict == ""
    assert rows[f"{OURS_SHARED} / {NAIVE_APPSRC}"].verdict == ""
    assert rows[f"{OURS_NATIVE_SHARED} / {C_BASELINE}"].verdict == "MISSED"
    assert f"{OURS_NATIVE_SHARED} / {C_PATTERN}" not in rows
