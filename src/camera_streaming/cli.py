"""Command line: argparse -> Config -> `service.run`. The only place that maps errors to exit
codes: 0 clean stop, 2 bad input (one line on stderr, no traceback), 1 a pipeline failure at
run time."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from typing import NoReturn

from . import __version__
from .config.layers import Effective, add_flags, render
from .config.layers import load as load_settings
from .config.model import Config
from .errors import CameraStreamingError, PipelineError
from .logs import configure_logging
from .telemetry.memory import (
    disable_huge_pages,
    fix_mmap_threshold,
    limit_arenas,
    slices_on_malloc,
)

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
        "RTSP to many clients, with flat memory. Settings come from the command line, then "
        "CAMERA_STREAMING_* variables, then --config FILE, then defaults.",
        epilog="'camera-streaming doctor' checks this machine: GStreamer elements, encoders, "
        "cameras, ports.",
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument(
        "--rtsp",
        action="store_true",
        help="serve RTSP (on by default; with --rtmp/--save/--publish it is on only if given)",
    )
    p.add_argument("--config", metavar="FILE", help="TOML settings file (docs/configuration.md)")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective configuration (secrets masked) and exit",
    )
    p.add_argument(
        "--list-encoders",
        action="store_true",
        help="list the H.264/H.265 encoders, present or absent, and which auto picks",
    )
    add_flags(p)
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    return effective_from_args(args).config


def effective_from_args(args: argparse.Namespace) -> Effective:
    effective = load_settings(vars(args), config_file=args.config)
    cfg = effective.config
    # The C++ original's rule: naming other outputs on the command line without --rtsp means "not
    # RTSP" (unless RTSP was switched on by the environment or the file).
    named = any(f"outputs.{k}" in vars(args) for k in ("rtmp", "save", "publish"))
    if named and not args.rtsp and effective.origins.get("rtsp.enabled", "default") == "default":
        cfg = replace(cfg, rtsp=replace(cfg.rtsp, enabled=False))
        effective = replace(effective, config=cfg)
    return effective


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["monitor"]:
        from .telemetry.monitor import main as monitor_main

        return monitor_main(argv[1:])
    if argv[:1] == ["doctor"]:
        from .doctor import main as doctor_main

        return doctor_main(argv[1:])
    args = build_parser().parse_args(argv)
    # Before any thread starts: at most 2 malloc arenas, a fixed mmap threshold so that
    # freed frame-sized chunks leave RSS at once, no transparent huge pages (docs/memory.md
    # has the numbers).
    if os.environ.get("MALLOC_ARENA_MAX") is None:
        limit_arenas(2)
    slices_on_malloc()  # before GLib loads: its slices on malloc (docs/webrtc.md)
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
        fix_mmap_threshold()
    if os.environ.get("CAMERA_STREAMING_HUGE_PAGES") != "1":
        disable_huge_pages()  # resident 2 MB pages for buffers that touch a fraction of them
    try:
        effective = effective_from_args(args)
        config = effective.config
        if args.print_config:
            sys.stdout.write(render(effective))
            return 0
        if args.list_encoders:
            from .doctor import print_encoders

            print_encoders(config.video.codec, config.video.encoder)
            return 0
        configure_logging(config.log.level, config.log.format)
        from .service import run

        run(config, handle_signals=True)
        if os.environ.get("GST_TRACERS"):
            from .gst.runtime import deinit_for_leak_check

            deinit_for_leak_check()
    except PipelineError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 1
    except CameraStreamingError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    return 0
