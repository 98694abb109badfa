"""A small RTSP server that accepts ANNOUNCE/RECORD (gst-rtsp-server in RECORD mode) and writes
what it receives, without decoding, into a Matroska file: the peer for `--publish` tests and for
trying `--publish` by hand.

    python -m camera_streaming.testing.record_server --port 8555 --path /cam --out cam.mkv

Run it in its own process (it owns the GLib main loop). SIGTERM stops it and closes the file.
Why not Debian's rtsp-server-perl: it takes the stream id only from a SETUP URL ending in
`/streamid=N` (ffmpeg's convention) and fails on rtspclientsink's `/stream=0`
(RTSP/Server/Connection.pm `get_mount`), so it cannot take a GStreamer publisher.
"""

from __future__ import annotations

import argparse
import signal
import sys

from ..gst.runtime import GLib, GstRtsp, GstRtspServer, init


def record_launch(out: str) -> str:
    return (
        "( rtph264depay name=depay0 ! h264parse ! "
        f'matroskamux streamable=true ! filesink location="{out}" )'
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="record_server")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8555)
    ap.add_argument("--path", default="/cam")
    ap.add_argument("--out", required=True, help="Matroska file to write")
    args = ap.parse_args(argv)
    init()
    server = GstRtspServer.RTSPServer()
    server.set_address(args.bind)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
    factory.set_launch(record_launch(args.out))
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    factory.set_latency(0)
    server.get_mount_points().add_factory(args.path, factory)
    if not server.attach(None):
        sys.stderr.write(f"record_server: cannot listen on {args.bind}:{args.port}\n")
        return 2
    loop = GLib.MainLoop()

    def quit_loop(*_args: object) -> None:
        loop.quit()

    signal.signal(signal.SIGTERM, quit_loop)
    signal.signal(signal.SIGINT, quit_loop)
    # A signal handler only runs when Python gets control: wake the loop now and then.
    GLib.timeout_add(200, lambda: True)
    print(f"listening rtsp://{args.bind}:{args.port}{args.path}", flush=True)
    loop.run()
    server.client_filter(lambda *_a: GstRtspServer.RTSPFilterResult.REMOVE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
