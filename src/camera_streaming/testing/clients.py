"""Real RTSP client behaviours for churn tests, the soak harness and benchmarks.

Each `*_session(url)` runs one client life with bounded time: raw clients (our
`RtspProbe`) that tear down, reset, vanish, stop reading, never PLAY or only DESCRIBE, and
real programs (ffprobe, ffmpeg, gst-launch rtspsrc) over TCP and UDP.
"""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Callable

from .rtsp_probe import RtspProbe

TIMEOUT_S = 8.0


def udp_port_pair() -> tuple[socket.socket, socket.socket, int]:
    """Two bound UDP sockets on an even/odd port pair (RTP/RTCP), for SETUP over UDP."""
    for _ in range(50):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind(("127.0.0.1", 0))
        port = a.getsockname()[1]
        if port % 2:
            a.close()
            continue
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            b.bind(("127.0.0.1", port + 1))
        except OSError:
            a.close()
            b.close()
            continue
        return a, b, port
    raise OSError("no free UDP port pair")


def _tcp_play(url: str, rcvbuf: int = 0) -> RtspProbe:
    c = RtspProbe(url, timeout=TIMEOUT_S, rcvbuf=rcvbuf)
    try:
        c.setup_tcp(c.control_url(c.describe().body))
        r = c.play_until_idr(timeout=TIMEOUT_S)
        if r.first_idr is None:
            raise AssertionError("no IDR after PLAY")
    except BaseException:
        c.close()
        raise
    return c


def raw_teardown_session(url: str) -> None:
    c = _tcp_play(url)
    c.teardown()
    c.close()


def raw_reset_session(url: str) -> None:
    _tcp_play(url).reset()


def _udp_session(url: str, teardown: bool) -> None:
    a, b, port = udp_port_pair()
    try:
        with RtspProbe(url, timeout=TIMEOUT_S) as c:
            c.setup_udp(c.control_url(c.describe().body), port)
            c.request("PLAY", headers={"Range": "npt=0.000-"})
            a.settimeout(TIMEOUT_S)
            a.recv(2048)  # RTP arrives
            if teardown:
                c.teardown()
            else:
                c.reset()
    finally:
        a.close()
        b.close()


def raw_udp_teardown_session(url: str) -> None:
    _udp_session(url, True)


def raw_udp_vanish_session(url: str) -> None:
    """UDP client that drops its control connection without TEARDOWN: the session lives on
    until its timeout."""
    _udp_session(url, False)


def raw_stop_reading_session(url: str, seconds: float = 2.0) -> None:
    """PLAY over TCP with a small receive buffer (64 KB: the first IDR still fits when the
    machine is loaded), then stop reading for a while, then vanish."""
    c = _tcp_play(url, rcvbuf=65536)
    time.sleep(seconds)
    c.reset()


def raw_never_play_session(url: str) -> None:
    with RtspProbe(url, timeout=TIMEOUT_S) as c:
        c.setup_tcp(c.control_url(c.describe().body))


def raw_describe_only_session(url: str) -> None:
    with RtspProbe(url, timeout=TIMEOUT_S) as c:
        c.describe()


def _run(cmd: list[str], timeout: float = 20.0) -> None:
    out = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout
    )
    if out.returncode != 0:
        raise AssertionError(f"{cmd[0]} exited {out.returncode}: {out.stderr[-300:]}")


def ffprobe_session(url: str, transport: str = "tcp") -> None:
    _run(["ffprobe", "-v", "error", "-rtsp_transport", transport, "-show_streams", url])


def ffmpeg_session(url: str, transport: str = "tcp", seconds: float = 1.0) -> None:
    _run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-rtsp_transport",
            transport,
            "-i",
            url,
            "-t",
            str(seconds),
            "-c",
            "copy",
            "-f",
            "null",
            "-",
        ]
    )


def run_rtspsrc(
    url: str, *props: str, buffers: int = 15, decode: bool = False, timeout: float = 20.0
) -> subprocess.CompletedProcess:
    """`gst-launch-1.0 rtspsrc ... ! rtph264depay [! h264parse ! avdec_h264] ! fakesink
    num-buffers=N`. Judge it with `rtspsrc_played()`, not the exit code: see there."""
    decoder = ["!", "h264parse", "!", "avdec_h264"] if decode else []
    cmd = ["gst-launch-1.0", "rtspsrc", f"location={url}", *props, "!", "rtph264depay"]
    cmd += [*decoder, "!", "fakesink", f"num-buffers={buffers}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def rtspsrc_played(out: subprocess.CompletedProcess) -> bool:
    """True when the pipeline reached EOS (all N buffers arrived). The exit code is not
    enough: at EOS rtspsrc 1.22 can send TEARDOWN and PAUSE from two threads; when the
    TEARDOWN wins the server closes the connection as it should, the PAUSE then fails with
    "Could not write to resource (Received end-of-file)" and gst-launch exits 1 (1 run in 4
    over RTSPS here, ~1 % over plain RTSP; the server log shows TEARDOWN, then the close)."""
    return "Got EOS from element" in out.stdout


def rtspsrc_session(url: str, protocols: str = "tcp") -> None:
    out = run_rtspsrc(url, f"protocols={protocols}")
    if not rtspsrc_played(out):
        raise AssertionError(f"rtspsrc exited {out.returncode}: {out.stderr[-300:]}")


SessionFn = Callable[[str], None]

# The soak mix: names as they appear in reports.
MIX: dict[str, SessionFn] = {
    "raw-teardown": raw_teardown_session,
    "raw-reset": raw_reset_session,
    "raw-udp-teardown": raw_udp_teardown_session,
    "raw-udp-vanish": raw_udp_vanish_session,
    "raw-stop-reading": raw_stop_reading_session,
    "raw-never-play": raw_never_play_session,
    "raw-describe-only": raw_describe_only_session,
    "ffprobe-tcp": lambda url: ffprobe_session(url, "tcp"),
    "ffprobe-udp": lambda url: ffprobe_session(url, "udp"),
    "ffmpeg-tcp": lambda url: ffmpeg_session(url, "tcp"),
    "ffmpeg-udp": lambda url: ffmpeg_session(url, "udp"),
    "rtspsrc-tcp": lambda url: rtspsrc_session(url, "tcp"),
    "rtspsrc-udp": lambda url: rtspsrc_session(url, "udp"),
}
RAW_MIX = [name for name in MIX if name.startswith("raw-")]
