import pytest

from camera_streaming.memory import growth_after, linear_slope


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


def test_growth_needs_samples_after_warmup() -> None:
    with pytest.raises(ValueError):
        growth_after([0, 1], [1, 2], 5)
