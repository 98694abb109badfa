"""`camera-streaming doctor`: is this machine ready? GStreamer and its elements, encoders,
cameras (each /dev/video* with its formats), ports. Prints what is missing with the command
that installs it; exit 0 when every required piece is there, 1 otherwise."""

from __future__ import annotations

import argparse
import fcntl
import glob
import importlib
import os
import shutil
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Collection

from .config.layers import add_flags, load
from .errors import CameraStreamingError
from .gst.encoder_catalog import AUTO, ENCODERS, encoder_table, select_encoder
from .gst.launch import ELEMENT_PACKAGES, client_elements

OK, MISSING, WARN = "ok", "MISSING", "warn"

PYTHON_MODULES = {  # module -> how to get it
    "gi": "apt-get install python3-gi",
    "numpy": "pip install numpy",
    "cv2": "pip install opencv-python-headless",
    "psutil": "pip install psutil",
    "prometheus_client": "pip install prometheus-client",
}
TYPELIBS = {  # gi namespace -> Debian package
    "Gst": "gir1.2-gstreamer-1.0",
    "GstApp": "gir1.2-gst-plugins-base-1.0",
    "GstVideo": "gir1.2-gst-plugins-base-1.0",
    "GstRtsp": "gir1.2-gst-plugins-base-1.0",
    "GstRtspServer": "gir1.2-gst-rtsp-server-1.0",
}
BASE_ELEMENTS = ("appsrc", "appsink", "videoconvert")

# v4l2 ioctls (linux/videodev2.h): VIDIOC_QUERYCAP, VIDIOC_ENUM_FMT
VIDIOC_QUERYCAP = 0x80685600
VIDIOC_ENUM_FMT = 0xC0405602
V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
V4L2_CAP_VIDEO_CAPTURE = 0x1


class Report:
    def __init__(self, out: Callable[[str], object] = print) -> None:
        self.out = out
        self.fixes: list[str] = []
        self.failed = False

    def line(self, state: str, what: str, fix: str = "") -> None:
        self.out(f"  {state:<8}{what}" + (f"  ->  {fix}" if fix else ""))
        if state == MISSING:
            self.failed = True
            if fix and fix not in self.fixes:
                self.fixes.append(fix)

    def section(self, title: str) -> None:
        self.out(f"\n{title}")


def check_python(report: Report) -> None:
    report.section("Python")
    report.line(OK, f"python {sys.version.split()[0]}")
    for mod, fix in PYTHON_MODULES.items():
        try:
            importlib.import_module(mod)
            report.line(OK, mod)
        except ImportError:
            report.line(MISSING, mod, fix)


def check_gstreamer(report: Report) -> set[str]:
    """Typelibs and elements; returns the set of installed element names we care about."""
    report.section("GStreamer")
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst
    except (ImportError, ValueError):
        report.line(
            MISSING, "GStreamer for Python", "apt-get install python3-gi gir1.2-gstreamer-1.0"
        )
        return set()
    for ns, pkg in TYPELIBS.items():
        try:
            gi.require_version(ns, "1.0")
            importlib.import_module(f"gi.repository.{ns}")
            report.line(OK, f"{ns} typelib")
        except (ImportError, ValueError):
            report.line(MISSING, f"{ns} typelib", f"apt-get install {pkg}")
    from .gst.runtime import available_elements, init

    init()
    report.line(OK, f"GStreamer {Gst.version_string().split()[-1]}")
    names = {*BASE_ELEMENTS, *client_elements("h264"), *client_elements("h265")}
    names |= {n for e in ENCODERS for n in e.elements} | set(WEBRTC_ELEMENTS)
    available = available_elements(names)
    for name in (*BASE_ELEMENTS, "h264parse", "rtph264pay"):
        if name in available:
            report.line(OK, name)
        else:
            report.line(MISSING, name, f"apt-get install {ELEMENT_PACKAGES.get(name, '?')}")
    for name in ("h265parse", "rtph265pay"):
        state = OK if name in available else WARN
        report.line(state, f"{name} (only for --codec h265)")
    return available


def check_encoders(report: Report, available: Collection[str], wanted: str, codec: str) -> None:
    report.section(f"Encoders ({codec})")
    for name, enc_codec, state, mark, label in encoder_table(available, codec):
        if enc_codec != codec:
            continue
        report.out(f"  {state:<8}{name:<15}{label}  {mark}".rstrip())
    try:
        spec = select_encoder(available, wanted, codec)
        hw = "hardware" if spec.hardware else "software"
        report.line(OK, f"will use {spec.name} ({hw})")
        if not spec.hardware:
            report.line(WARN, "no hardware encoder found: fine on x86, slow at 1080p on boards")
    except CameraStreamingError as exc:
        fix = "apt-get install gstreamer1.0-plugins-ugly"
        report.line(MISSING, f"no usable encoder: {exc}", fix)


def v4l2_formats(device: str) -> tuple[str, list[str]]:
    """(card name, capture pixel formats) through the V4L2 ioctls; raises OSError."""
    fd = os.open(device, os.O_RDWR | os.O_NONBLOCK)
    try:
        cap = bytearray(104)
        fcntl.ioctl(fd, VIDIOC_QUERYCAP, cap)
        card = cap[16:48].split(b"\0", 1)[0].decode(errors="replace")
        device_caps = struct.unpack_from("I", cap, 88)[0]
        if not device_caps & V4L2_CAP_VIDEO_CAPTURE:
            return card, []
        formats = []
        for index in range(64):
            desc = bytearray(64)
            struct.pack_into("II", desc, 0, index, V4L2_BUF_TYPE_VIDEO_CAPTURE)
            try:
                fcntl.ioctl(fd, VIDIOC_ENUM_FMT, desc)
            except OSError:
                break
            fourcc = struct.unpack_from("I", desc, 44)[0].to_bytes(4, "little").decode(errors="?")
            name = desc[12:44].split(b"\0", 1)[0].decode(errors="replace")
            formats.append(f"{fourcc} ({name})")
        return card, formats
    finally:
        os.close(fd)


WEBRTC_ELEMENTS = {  # element -> Debian package
    "webrtcbin": "gstreamer1.0-plugins-bad",
    "nicesrc": "gstreamer1.0-nice",
    "nicesink": "gstreamer1.0-nice",
    "dtlssrtpenc": "gstreamer1.0-plugins-bad",
    "srtpenc": "gstreamer1.0-plugins-bad",
}
GNUTLS_PER_THREAD_FIXED = (3, 8, 0)  # docs/webrtc.md, "Memory over many sessions"


def gnutls_version() -> str | None:
    """The version of the GnuTLS libnice runs on (`gnutls_check_version(NULL)`), or None."""
    import ctypes

    try:
        lib = ctypes.CDLL("libgnutls.so.30")
    except OSError:
        return None
    check = lib.gnutls_check_version
    check.restype, check.argtypes = ctypes.c_char_p, [ctypes.c_char_p]
    version = check(None)
    return version.decode() if version else None


def keeps_memory_per_thread(version: str) -> bool:
    """True for a GnuTLS that keeps a random-generator context for every thread that ever
    used it (before 3.8.0): each WebRTC viewer then leaves a few KB of RSS behind."""
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts) < GNUTLS_PER_THREAD_FIXED


def check_webrtc(report: Report, available: Collection[str]) -> None:
    """WebRTC viewers (WHEP, on the HTTP port) need webrtcbin and libnice; none is required
    for RTSP, so what is missing is a warning."""
    report.section("WebRTC (WHEP on the HTTP port)")
    for name, package in WEBRTC_ELEMENTS.items():
        if name in available:
            report.line(OK, name)
        else:
            report.line(WARN, name, f"apt-get install {package}")
    version = gnutls_version()
    if version is not None and keeps_memory_per_thread(version):
        report.line(WARN, f"GnuTLS {version}: each viewer leaves ~4 KB of RSS (fixed in 3.8.0)")


def check_cameras(report: Report, pattern: str = "/dev/video*") -> None:
    report.section("Cameras")
    devices = sorted(glob.glob(pattern))
    if not devices:
        report.line(WARN, "no /dev/video* device: '--source auto' will stream the test pattern")
        return
    v4l2_ctl = shutil.which("v4l2-ctl")
    for dev in devices:
        try:
            card, formats = v4l2_formats(dev)
        except OSError as exc:
            report.line(WARN, f"{dev}: cannot query ({exc.strerror}); check permissions "
                        "(group 'video')")  # fmt: skip
            continue
        if not formats:
            report.out(f"  {'-':<8}{dev}: {card} (not a capture device: metadata or codec)")
            continue
        report.line(OK, f"{dev}: {card}: {', '.join(formats)}")
        if v4l2_ctl:
            out = subprocess.run([v4l2_ctl, "-d", dev, "--list-formats-ext"],
                                 capture_output=True, text=True, timeout=5)  # fmt: skip
            sizes = sorted({ln.split()[-1] for ln in out.stdout.splitlines() if "Size:" in ln})
            if sizes:
                report.out(f"  {'':<8}sizes: {', '.join(sizes[:12])}")
    if not v4l2_ctl:
        report.line(WARN, "v4l2-ctl not installed (sizes not listed)", "apt-get install v4l-utils")


def check_port(report: Report, what: str, address: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
            report.line(OK, f"{what} port {address}:{port} is free")
        except OSError as exc:
            report.line(
                MISSING,
                f"{what} port {address}:{port}: {exc.strerror}",
                f"choose another port (--{'port' if what == 'RTSP' else 'http-port'})",
            )


def print_encoders(codec: str = "h264", wanted: str = AUTO) -> None:
    """`--list-encoders`: every known encoder, present or absent, and which would be picked."""
    from .gst.runtime import available_elements

    available = available_elements()
    print(f"{'encoder':<15}{'codec':<7}{'state':<9}{'':<8}description")
    for name, enc_codec, state, mark, label in encoder_table(available, codec):
        print(f"{name:<15}{enc_codec:<7}{state:<9}{mark:<8}{label}")
    try:
        spec = select_encoder(available, wanted, codec)
        print(f"\nwould use: {spec.name} ({'--encoder ' + wanted if wanted != AUTO else 'auto'})")
    except CameraStreamingError as exc:
        print(f"\nno usable encoder: {exc}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="camera-streaming doctor", description=__doc__)
    p.add_argument("--config", metavar="FILE")
    add_flags(p)
    args = p.parse_args(argv)
    try:
        config = load(vars(args), config_file=args.config).config
    except CameraStreamingError as exc:
        sys.stderr.write(f"camera-streaming doctor: error: {exc}\n")
        return 2
    report = Report()
    check_python(report)
    available = check_gstreamer(report)
    if available:
        check_encoders(report, available, config.video.encoder, config.video.codec)
    if available and config.http.enabled:
        check_webrtc(report, available)
    check_cameras(report)
    report.section("Ports")
    check_port(report, "RTSP", config.rtsp.bind, config.rtsp.port)
    if config.http.enabled and config.http.port:
        check_port(report, "HTTP", config.http.bind, config.http.port)
    if report.failed:
        report.out("\nMissing pieces. To install them:")
        for fix in report.fixes:
            report.out(f"  {fix}")
        return 1
    report.out("\nEverything camera-streaming needs is here.")
    return 0
