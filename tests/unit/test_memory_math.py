import pytest

from camera_streaming.telemetry.memory import growth_after, linear_slope, median_slope


def test_linear_slope() -> None:
    assert linear_slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert linear_slope([0, 1, 2], [5, 5, 5]) == 0
    assert linear_slope([1, 1], [0, 9]) == 0
    assert linear_slope([1], [1]) == 0


def test_growth_after_warmup_uses_medians_and_slope() -> None:
    xs = list(range(0, 100, 10))
    ys = [50, 60, 70, 70.1, 70.2, 99, 70.4, 70.5, 70.6, 70.7]  # one spike at x=50
    g = growth_after(xs, ys, 30)
    assert g.start == pytest.approx(70.2)
    assert g.end == pytest.approx(70.6)
    assert g.delta == pytest.approx(0.4)
    # after warm-up: 0.1 per 10 x except the spike; Theil-Sen ignores it, least squares not
    assert g.median_slope == pytest.approx(0.01)
    assert abs(g.slope - 0.01) > 0.05


def test_growth_needs_samples_after_warmup() -> None:
    with pytest.raises(ValueError):
        growth_after([0, 1], [1, 2], 5)


def test_median_slope_ignores_a_transient_that_tips_least_squares() -> None:
    """2 h at 0.05 MB/h with 9 minutes lifted by 3.3 MB late in the second hour (another
    job loading the machine): least squares reads it as a slope, the median of pairwise
    slopes does not."""
    xs = [i / 120 for i in range(240)]  # a sample every 30 s, hours
    ys = [172.0 + 0.05 * x + (3.3 if 1.7 <= x < 1.85 else 0.0) for x in xs]
    assert median_slope(xs, ys) == pytest.approx(0.05, abs=0.01)
    assert abs(linear_slope(xs, ys) - 0.05) > 0.1
    assert median_slope(xs, [5.0] * len(xs)) == 0.0
    assert median_slope([1.0, 1.0], [2.0, 3.0]) == 0.0
    xs_long = [float(i) for i in range(5000)]  # thinned, still exact on a line
    assert median_slope(xs_long, [2 * x + 1 for x in xs_long]) == pytest.approx(2.0)
