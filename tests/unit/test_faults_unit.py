"""Pure parts of fault handling: backoff, users parsing, the slate."""

from __future__ import annotations

import numpy as np
import pytest

from camera_streaming.backoff import OUTPUT_BACKOFF, Backoff
from camera_streaming.config import Config, RtspConfig, parse_users, users_from_env, validate
from camera_streaming.errors import ConfigError
from camera_streaming.sources import read_code
from camera_streaming.sources.supervisor import HEALTHY_CHECK_S, Slate, watch_period


def test_backoff_doubles_up_to_the_cap() -> None:
    source = Backoff(0.1, 1.0)
    assert [source.delay(i) for i in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert Backoff(0.1, 5.0).delay(1000) == 5.0
    assert [OUTPUT_BACKOFF.delay(i) for i in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_users_parse_and_never_show_passwords() -> None:
    assert parse_users("alice:a:b, bob:x") == {"alice": "a:b", "bob": "x"}
    assert users_from_env({}) == {}
    assert users_from_env({"CAMERA_STREAMING_USERS": "u:p"}) == {"u": "p"}
    with pytest.raises(ConfigError) as err:
        parse_users("alice:topsecret,bob")
    assert "topsecret" not in str(err.value) and "entry 2" in str(err.value)
    rtsp = RtspConfig(auth="digest").with_users({"alice": "topsecret"})
    assert "topsecret" not in repr(Config(rtsp=rtsp))
    validate(Config(rtsp=rtsp))


def test_auth_needs_users_and_tls_needs_both_files() -> None:
    with pytest.raises(ConfigError, match="auth"):
        validate(Config(rtsp=RtspConfig(auth="basic")))
    with pytest.raises(ConfigError, match="tls-key"):
        validate(Config(rtsp=RtspConfig(tls_cert="/etc/hostname")))
    assert RtspConfig(tls_cert="c", tls_key="k").url().startswith("rtsps://")


def test_slate_is_reused_and_redraws_the_clock_once_a_second() -> None:
    slate = Slate(320, 240, "v4l2:/dev/video0")
    a = slate.render(1000.0).copy()
    b = slate.render(1000.5)
    assert np.array_equal(a, b)
    c = slate.render(1001.0)
    assert c is b and not np.array_equal(a, c)
    assert a.shape == (240, 320, 3) and a.max() == 255  # white text on dark grey
    assert read_code(a) == (0, 0)  # no frame code: tests tell slate frames from pictures


def test_the_watchdog_ticks_at_the_frame_rate_only_while_it_shows_the_slate() -> None:
    assert watch_period(30, 2.0, showing_slate=True) == pytest.approx(1 / 30)
    assert watch_period(30, 2.0, showing_slate=False) == HEALTHY_CHECK_S  # sees a stall in time
    assert watch_period(30, 0.4, showing_slate=False) == pytest.approx(0.1)  # a quarter of it
    assert watch_period(2, 2.0, showing_slate=False) == 0.5  # never faster than the frames
