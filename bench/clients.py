"""Bench clients: many interleaved-TCP RTSP sessions read by one thread that counts frames per
client (cheap next to 32 ffmpeg processes), and two decoders that read the capture time coded
into the test pattern back (glass-to-glass latency): GStreamer (rtspsrc latency=0 ! avdec_h264)
and ffmpeg (-fflags nobuffer -flags low_delay), which adds about two frames of its own."""

from __future__ import annotations

import selectors
import struct
import subprocess
import time

import numpy as np

from camera_streaming.sources.pattern import read_code
from camera_streaming.testing.rtsp_probe import PlayResult, RtspProbe


def play(url: str, timeout: float = 10.0) -> tuple[RtspProbe, PlayResult, float]:
    """Connect, DESCRIBE, SETUP (TCP interleaved), PLAY and read until the first IDR. Returns
    the probe, what PLAY saw, and the seconds from connecting to the first IDR."""
    connect = time.monotonic()
    probe = RtspProbe(url, timeout=timeout)
    try:
        probe.setup_tcp(probe.control_url(probe.describe().body))
        result = probe.play_until_idr(timeout=timeout)
    except BaseException:
        probe.close()
        raise
    if result.first_idr is None:
        probe.close()
        raise RuntimeError(f"no IDR within {timeout} s of PLAY")
    return probe, result, result.first_idr - connect


def start_playing(url: str, timeout: float = 10.0) -> RtspProbe:
    """Connect, DESCRIBE, SETUP (TCP interleaved) and PLAY; return once PLAY is answered."""
    probe = RtspProbe(url, timeout=timeout)
    try:
        probe.setup_tcp(probe.control_url(probe.describe().body))
        probe.request("PLAY", headers={"Range": "npt=0.000-"})
    except BaseException:
        probe.close()
        raise
    return probe


KEEPALIVE_S = 5.0


class FrameCounter:
    """Reads every session's socket and counts access units (RTP packets with the marker bit
    set) per client. `pump(seconds)` reads for that long; `reset()` zeroes the counts.

    Every KEEPALIVE_S each client sends OPTIONS with its session id, as real clients send
    GET_PARAMETER or RTCP: without it servers expire the sessions (ours after 30 s)."""

    def __init__(self) -> None:
        self.probes: list[RtspProbe] = []
        self.counts: list[int] = []
        self.closed: set[int] = set()  # clients whose connection the server closed or reset
        self._bufs: list[bytes] = []
        self._sel = selectors.DefaultSelector()
        self._next_keepalive = time.monotonic() + KEEPALIVE_S

    def add(self, probe: RtspProbe) -> None:
        idx = len(self.probes)
        self.probes.append(probe)
        self.counts.append(0)
        self._bufs.append(probe.buf)
        probe.sock.setblocking(False)
        self._sel.register(probe.sock, selectors.EVENT_READ, idx)

    def reset(self) -> None:
        self.counts = [0] * len(self.probes)

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= self._next_keepalive:
                self._keepalive()
                self._next_keepalive = now + KEEPALIVE_S
            left = deadline - now
            if left <= 0:
                return
            for key, _ in self._sel.select(min(left, 0.1)):
                idx = key.data
                try:
                    chunk = self.probes[idx].sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self.closed.add(idx)
                    self._sel.unregister(key.fileobj)
                    continue
                self._bufs[idx] = self._parse(idx, self._bufs[idx] + chunk)

    def _keepalive(self) -> None:
        for idx, probe in enumerate(self.probes):
            if idx in self.closed:
                continue
            probe.cseq += 1
            msg = f"OPTIONS {probe.url} RTSP/1.0\r\nCSeq: {probe.cseq}\r\n"
            msg += f"Session: {probe.session}\r\n\r\n"
            try:
                probe.sock.send(msg.encode())  # tiny: fits the socket buffer
            except OSError:
                pass

    def _parse(self, idx: int, buf: bytes) -> bytes:
        off, n, frames = 0, len(buf), 0
        while n - off >= 4:
            if buf[off] != 0x24:  # "$": anything else is an RTSP message; skip its head
                end = buf.find(b"\r\n\r\n", off)
                if end < 0:
                    break
                off = end + 4
                continue
            length = struct.unpack_from(">H", buf, off + 2)[0]
            if n - off < 4 + length:
                break
            if buf[off + 1] == 0 and length >= 12 and buf[off + 5] & 0x80:
                frames += 1
            off += 4 + length
        self.counts[idx] += frames
        return buf[off:]

    def close(self) -> None:
        for idx, probe in enumerate(self.probes):
            if idx not in self.closed:
                self._sel.unregister(probe.sock)
            probe.close()
        self._sel.close()


WARMUP_MS = 1000  # the decoder's first second is not counted


def gst_latencies(url: str, seconds: float, width: int, height: int) -> list[float]:
    """Decode with `rtspsrc latency=0 protocols=tcp ! rtph264depay ! avdec_h264 ! GRAY8 !
    appsink` in this process; per frame after the first second, now - capture time in ms."""
    from camera_streaming.gst.runtime import Gst, init

    init()
    pipeline = Gst.parse_launch(
        f"rtspsrc location={url} latency=0 protocols=tcp ! rtph264depay ! avdec_h264 "
        f"! videoconvert ! video/x-raw,format=GRAY8 ! appsink name=sink sync=false "
        f"max-buffers=2 drop=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    out: list[float] = []
    start = None
    hard_stop = time.monotonic() + seconds + 20
    try:
        while time.monotonic() < hard_stop:
            sample = sink.emit("try-pull-sample", Gst.SECOND // 2)
            if sample is None:
                continue
            now_ms = int(time.monotonic() * 1000)
            start = start or now_ms
            buf = sample.get_buffer()
            ok, info = buf.map(Gst.MapFlags.READ)
            if not ok:
                continue
            try:
                data = np.frombuffer(info.data, np.uint8)
                stride = len(data) // height
                code = read_code(data[: stride * height].reshape(height, stride)[:, :width])
                del data
            finally:
                buf.unmap(info)
            if now_ms - start >= WARMUP_MS and code is not None:
                out.append(float((now_ms - code[1]) & 0xFFFFFFFF))
            if now_ms - start >= seconds * 1000 + WARMUP_MS:
                break
    finally:
        pipeline.set_state(Gst.State.NULL)
    return out


def ffmpeg_latencies(url: str, seconds: float, width: int, height: int) -> list[float]:
    """Decode the stream with ffmpeg (low-delay, gray rawvideo on a pipe) and return, per frame
    after the first second, now - capture time read from the pixels, in milliseconds."""
    args = "-v error -rtsp_transport tcp -fflags nobuffer -flags low_delay -probesize 32768"
    args += " -analyzeduration 0 -i {url} -t {t} -f rawvideo -pix_fmt gray -flush_packets 1 -"
    proc = subprocess.Popen(
        ["ffmpeg", *args.format(url=url, t=seconds + 5).split()],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    size = width * height
    out: list[float] = []
    assert proc.stdout is not None
    try:
        start = None
        hard_stop = time.monotonic() + seconds + 20
        while time.monotonic() < hard_stop:
            data = proc.stdout.read(size)
            if len(data) < size:
                break
            now_ms = int(time.monotonic() * 1000)
            start = start or now_ms
            if now_ms - start < WARMUP_MS:
                continue
            code = read_code(np.frombuffer(data, np.uint8).reshape(height, width))
            if code is not None:
                out.append(float((now_ms - code[1]) & 0xFFFFFFFF))
            if now_ms - start >= seconds * 1000 + WARMUP_MS:
                break
    finally:
        proc.kill()
        proc.wait(5)
    return out
