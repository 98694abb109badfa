"""Command line: argparse -> Config -> Streamer. The only place that maps errors to exit codes:
0 clean stop, 2 bad input (one line on stderr, no traceback), 1 a pipeline failure at run time."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any, NoReturn

from . import __version__
from .config import (
    Config,
    RecoveryConfig,
    RtspConfig,
    SourceSpec,
    VideoConfig,
    users_from_env,
    validate,
)
from .errors import CameraStreamingError, ConfigError, PipelineError

PROG = "camera-streaming"
log = logging.getLogger("camera_streaming")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{PROG}: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Camera, file or test pattern -> one H.264 encode -> "
        "RTSP to many clients, with flat memory.",
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument(
        "--rtsp",
        action="store_true",
        help="serve RTSP (the default output; kept for the seed's command line)",
    )
    p.add_argument("--width", type=int, default=1280, help="frame width (default 1280)")
    p.add_argument("--height", type=int, default=720, help="frame height (default 720)")
    p.add_argument("--fps", type=int, default=25, help="frames per second (default 25)")
    p.add_argument("--bitrate", type=int, default=2000, help="H.264 bitrate in kbps (2000)")
    p.add_argument(
        "--keyframe-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between keyframes (default 1)",
    )
    p.add_argument(
        "--source",
        default="auto",
        metavar="SPEC",
        help="auto | test | v4l2:/dev/videoN | file:PATH (default auto: the first "
        "camera that opens, else the test pattern)",
    )
    p.add_argument("--no-loop", action="store_true", help="do not loop a file source")
    p.add_argument("--port", type=int, default=8554, help="RTSP port (default 8554)")
    p.add_argument("--path", default="/stream", help="RTSP mount path (default /stream)")
    p.add_argument(
        "--bind",
        default="0.0.0.0",
        metavar="ADDRESS",
        help="address to listen on (default 0.0.0.0)",
    )
    p.add_argument(
        "--max-clients",
        type=int,
        default=0,
        metavar="N",
        help="refuse RTSP sessions beyond N with 503 (default 0: unlimited)",
    )
    p.add_argument(
        "--session-timeout",
        type=int,
        default=30,
        metavar="SECONDS",
        help="drop sessions of clients silent this long (default 30)",
    )
    p.add_argument(
        "--auth",
        default="none",
        choices=["none", "basic", "digest"],
        help="RTSP authentication; users come from $CAMERA_STREAMING_USERS "
        "(name:password,...), never from the command line (default none)",
    )
    p.add_argument("--tls-cert", default="", metavar="FILE", help="PEM certificate: serve rtsps://")
    p.add_argument("--tls-key", default="", metavar="FILE", help="PEM private key for --tls-cert")
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="a source silent this long is re-opened (slate meanwhile); an encoder producing "
        "nothing this long is rebuilt (default 2)",
    )
    p.add_argument(
        "--retry-max",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="longest wait between source re-open attempts (default 1)",
    )
    p.add_argument(
        "--hook",
        metavar="MODULE:FUNCTION",
        help="call FUNCTION(frame) on every streamed BGR frame; it may draw in place",
    )
    p.add_argument(
        "--stats-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between stats lines (default 1)",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Config:
    """Build and validate the Config; users come from the environment only."""
    users = users_from_env(environ)  # errors name CAMERA_STREAMING_USERS, never a password
    source = SourceSpec.parse(args.source, "--source")
    if args.no_loop:
        source = SourceSpec(source.kind, source.location, loop=False)
    config = Config(
        video=VideoConfig(
            width=args.width,
            height=args.height,
            fps=args.fps,
            bitrate_kbps=args.bitrate,
            keyframe_interval_s=args.keyframe_interval,
        ),
        rtsp=RtspConfig(
            port=args.port,
            path=args.path,
            bind=args.bind,
            max_clients=args.max_clients,
            session_timeout_s=args.session_timeout,
            auth=args.auth,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
        ).with_users(users),
        recovery=RecoveryConfig(stall_timeout_s=args.stall_timeout, retry_max_s=args.retry_max),
        source=source,
        hook=args.hook,
        stats_interval_s=args.stats_interval,
    )
    try:
        return validate(config)
    except ConfigError as exc:  # name the flag as the user typed it
        raise ConfigError(f"--{exc.field.split('.')[-1]}", str(exc).split(": ", 1)[1]) from None


class _Signals:
    """SIGINT/SIGTERM ask the streamer to stop; a second SIGINT exits at once. Handlers are
    restored on exit."""

    def __init__(self, streamer: Any) -> None:
        self.streamer = streamer
        self.count = 0
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._saved[sig] = signal.signal(sig, self._handle)
        self._saved[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.count += 1
        if self.count > 1 and signum == signal.SIGINT:
            sys.stderr.write(f"{PROG}: second interrupt, exiting now\n")
            os._exit(130)
        log.info("%s received, stopping", signal.Signals(signum).name)
        self.streamer.request_stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
        from .service import Streamer

        streamer = Streamer(config)
        with _Signals(streamer):
            streamer.start()
            streamer.serve()
    except PipelineError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 1
    except CameraStreamingError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    return 0
