"""The soak sampler's RSS: the median of per-second readings, not one reading per row."""

from __future__ import annotations

import itertools
import time

import pytest

from camera_streaming.testing import soak


class _Churn:
    done = 0
    errors: list = []


def _figures() -> dict:
    return {"rss_mb": 95.0, "heap_mb": 50.0}  # the row instant's own reading


def test_rss_is_the_median_of_the_readings_so_a_periodic_dip_does_not_move_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dip in one reading of every six (the server's malloc_trim every 30 s, read every
    second) leaves every row at the undipped level."""
    monkeypatch.setattr(soak, "RSS_READ_S", 0.02)
    readings = itertools.cycle([100.0, 100.0, 99.7, 100.0, 100.0, 100.0])
    sampler = soak.Sampler(_figures, _Churn(), interval_s=0.2, rss=lambda: next(readings))  # type: ignore[arg-type]
    sampler.start()
    time.sleep(1.1)
    sampler.stop()
    assert len(sampler.rows) >= 3
    assert all(r["rss_mb"] == 100.0 for r in sampler.rows), [r["rss_mb"] for r in sampler.rows]


def test_without_an_rss_reader_rows_keep_the_figures_reading() -> None:
    sampler = soak.Sampler(_figures, _Churn(), interval_s=0.1)  # type: ignore[arg-type]
    sampler.start()
    time.sleep(0.45)
    sampler.stop()
    assert len(sampler.rows) >= 2
    assert all(r["rss_mb"] == 95.0 for r in sampler.rows)
