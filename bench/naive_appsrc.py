"""The naive Python baseline: camera-streaming's test pattern frames (same NumPy content),
converted to I420 with OpenCV and pushed with `Gst.Buffer.new_wrapped(bytes)` into the appsrc
of one stock shared gst-rtsp-server media (appsrc -> x264enc -> h264parse -> rtph264pay).
No pools, no bounded queues, no fan-out of ours: what a first script would do.

    python bench/naive_appsrc.py PORT WIDTH HEIGHT FPS BITRATE_KBPS
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import cv2  # noqa: E402
import gi  # noqa: E402

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstApp, GstRtspServer  # noqa: E402, F401

from camera_streaming.sources.pattern import TestPatternSource  # noqa: E402


def main() -> None:
    port, width, height, fps, bitrate = (int(a) for a in sys.argv[1:6])
    Gst.init(None)
    caps = f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"
    launch = (
        f"( appsrc name=src is-live=true format=time do-timestamp=true caps={caps} "
        f"! x264enc tune=zerolatency speed-preset=superfast bitrate={bitrate} "
        f"key-int-max={fps} bframes=0 byte-stream=true ! h264parse config-interval=-1 "
        f"! rtph264pay name=pay0 pt=96 config-interval=0 aggregate-mode=zero-latency )"
    )
    slot: dict[str, Any] = {"appsrc": None}
    lock = threading.Lock()

    def on_unprepared(_media: Any) -> None:
        with lock:
            slot["appsrc"] = None

    def on_configure(_factory: Any, media: Any) -> None:
        media.connect("unprepared", on_unprepared)
        with lock:
            slot["appsrc"] = media.get_element().get_by_name("src")

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    factory.connect("media-configure", on_configure)
    server.get_mount_points().add_factory("/stream", factory)
    server.attach(None)
    pool = server.get_session_pool()
    GLib.timeout_add_seconds(2, lambda: pool.cleanup() >= 0)
    loop = GLib.MainLoop()
    stop = threading.Event()

    def push() -> None:
        source = TestPatternSource(width, height, fps)
        source.open()
        next_t = time.monotonic()
        while not stop.is_set():
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_t += 1.0 / fps
            frame = source.read()
            assert frame is not None
            i420 = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)
            with lock:
                appsrc = slot["appsrc"]
            if appsrc is not None:
                appsrc.push_buffer(Gst.Buffer.new_wrapped(i420.tobytes()))

    pusher = threading.Thread(target=push, name="push", daemon=True)
    pusher.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()
    stop.set()
    pusher.join(5)  # exiting with it inside OpenCV ends in std::terminate (SIGABRT)


if __name__ == "__main__":
    main()
