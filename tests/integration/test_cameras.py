"""Two cameras (the test pattern and a looping file), each with a 640x360@25 main stream and a
320x180@5 sub stream, in one process: four mounts read at once by real clients."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from camera_streaming.config import OutputsConfig
from camera_streaming.testing.rtsp_probe import RtspProbe
from camera_streaming.testing.soak import idle_medias
from support import cameras
from support.cameras import (
    HOOKS,
    MAIN,
    PATHS,
    SUB,
    decode_all,
    make_clip,
    pattern_index,
    square_visible,
    with_outputs,
)
from support.churn import churn, settled_baseline
from support.env import free_port, wait_for
from support.fakes import SwitchableSource, decode_images, running

pytestmark = pytest.mark.integration
SECONDS = 6.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


def rate(frames: list) -> float:
    """Frames per second between the first and the last decoded frame."""
    span = frames[-1][0] - frames[0][0]
    return (len(frames) - 1) / span if span > 0 else 0.0


def test_four_mounts_at_their_own_rates_with_the_hook_once_per_frame(port: int, clip: Path) -> None:
    for hook in HOOKS.values():
        hook.calls = 0
    with running(cameras.two_cameras(port, clip)) as s:
        got = decode_all(s.config.rtsp.url, SECONDS)
        cams = {c.name: c for c in s.cameras}
        processed = {n: c.frames - c.idle_frames for n, c in cams.items()}
        calls = {n: HOOKS[n].calls for n in cams}
        snap = s.snapshot()

    for path, frames in got.items():
        fps = (SUB if path.endswith("/sub") else MAIN).fps
        assert len(frames) >= SECONDS * fps * 0.8, (path, len(frames))
        assert fps * 0.9 <= rate(frames) <= fps * 1.1, (path, rate(frames))
        # the hook's drawing shows in every stream of its camera, main and sub
        assert all(square_visible(img) for _, img in frames[2:]), path
    # The sub stream takes every 5th captured frame: consecutive pattern indices 5 apart.
    indices = [pattern_index(img) for _, img in got["/pattern/sub"]]
    steps = {b - a for a, b in zip(indices, indices[1:]) if a is not None and b is not None}
    assert steps == {5}, steps
    main = [pattern_index(img) for _, img in got["/pattern"]]
    main_steps = [b - a for a, b in zip(main, main[1:]) if a is not None and b is not None]
    assert main_steps.count(1) >= 0.9 * len(main_steps), main_steps  # every frame
    # the hook ran exactly once per processed captured frame, on each camera
    assert calls == processed, (calls, processed)
    assert all(v > SECONDS * MAIN.fps * 0.8 for v in calls.values()), calls
    assert [c.name for c in snap.cameras] == ["pattern", "clip"]
    assert [s.path for s in snap.cameras[0].streams] == ["/pattern", "/pattern/sub"]


def test_hostile_churn_across_four_mounts(port: int, clip: Path) -> None:
    """The default per-client fan-out (the shared one is churned on one mount in
    test_churn.py, which costs another 45 s here)."""
    fanout = "per-client"
    proc = psutil.Process()
    cfg = cameras.two_cameras(port, clip, session_timeout_s=2, post_session_timeout_s=1,
                              fanout=fanout)  # fmt: skip
    anchored = 4 * idle_medias(fanout, 0)  # shared: one anchored media per mount
    with running(cfg) as s:
        urls = [s.config.rtsp.url(path=p) for p in PATHS]
        errors: list = []
        churn(urls, 24, 4, errors)  # warm-up: every mount, every kind of client life
        fds0, threads0 = settled_baseline(s, proc, anchored)
        errors.clear()
        churn(urls, 96, 4, errors)
        assert s.is_running and s.error is None
        rtsp = s.rtsp
        assert rtsp is not None
        assert wait_for(
            lambda: rtsp.sessions == 0 and rtsp.clients == 0 and rtsp.feeds == anchored, 20
        ), (rtsp.sessions, rtsp.clients, rtsp.feeds)
        assert rtsp.medias_configured == rtsp.medias_released + anchored
        assert rtsp.clients_connected == rtsp.clients_closed
        assert wait_for(lambda: proc.num_fds() <= fds0, 10), (proc.num_fds(), fds0)
        assert wait_for(lambda: proc.num_threads() <= threads0, 10), (proc.num_threads(), threads0)

        # every mount still serves a playable stream (read at once: a 5 fps sub stream makes
        # ffmpeg probe for seconds)
        def frames(url: str) -> int:
            video = SUB if url.endswith("/sub") else MAIN
            return len(decode_images(url, 1.5, video.width, video.height))

        with ThreadPoolExecutor(len(urls)) as pool:
            counts = dict(zip(urls, pool.map(frames, urls)))
        assert all(n >= 2 for n in counts.values()), counts
    assert len(errors) <= 96 * 0.02, errors[:5]


def test_a_lost_camera_a_stalled_client_and_a_failing_output_touch_nothing_else(
    port: int, clip: Path
) -> None:
    """Camera `pattern` loses its source (NO SIGNAL on its streams only); a client of
    /clip/sub stops reading; /clip's RTMP push fails (nothing listens). /clip and /clip/sub
    stay at their full rates."""
    dead = free_port()
    cfg = with_outputs(
        cameras.two_cameras(port, clip),
        "/clip",
        OutputsConfig(rtmp_url=f"rtmp://127.0.0.1:{dead}/live/x"),
    )
    source = SwitchableSource(MAIN.width, MAIN.height, MAIN.fps)
    source.open()
    with running(cfg, source=source) as s:
        url = s.config.rtsp.url
        stuck = RtspProbe(url(path="/clip/sub"))
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.setup_tcp(stuck.control_url(stuck.describe().body))
        play = f"PLAY {url(path='/clip/sub')} RTSP/1.0\r\nCSeq: 9\r\nSession: {stuck.session}"
        stuck.sock.sendall(f"{play}\r\n\r\n".encode())
        source.broken.set()
        got = decode_all(url, SECONDS)
        cams = {c.name: c for c in s.cameras}
        lost, other = cams["pattern"].faults, cams["clip"].faults
        (rtmp,) = s.outputs
        status = rtmp.status()
        stuck.reset()
    for path, frames in got.items():
        fps = (SUB if path.endswith("/sub") else MAIN).fps
        assert fps * 0.9 <= rate(frames) <= fps * 1.1, (path, rate(frames))
    # the lost camera's streams carry the slate (dark where the pattern's code was: it reads
    # as None or 0), the other camera's do not
    assert all(pattern_index(img) in (None, 0) for _, img in got["/pattern"][5:])
    assert lost.source_lost == 1 and lost.slate_frames > SECONDS * MAIN.fps * 0.8, lost
    assert other.source_lost == 0 and other.slate_frames == 0 and other.encoder_stalls == 0
    assert status.state == "retrying" and status.errors >= 1, status
