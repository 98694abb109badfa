"""The device facts the ONVIF services describe, built from the validated configuration: one
media profile per stream, each camera's main stream first. Pure but for reading the machine's
id and host name."""

from __future__ import annotations

import hashlib
import re
import socket
from pathlib import Path

from ..config.model import Config
from .model import DeviceFacts, Profile

MANUFACTURER = "camera-streaming"
MODEL = "camera-streaming IP camera"


def profile_token(path: str) -> str:
    """A stable token from a mount path: `/front/sub` -> `front_sub`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", path.strip("/")) or "stream"


def machine_serial(machine_id: Path = Path("/etc/machine-id")) -> str:
    """A serial number stable across restarts and not the machine id itself."""
    try:
        seed = machine_id.read_text().strip()
    except OSError:
        seed = socket.gethostname()
    return hashlib.sha256(f"camera-streaming:{seed}".encode()).hexdigest()[:16].upper()


def device_facts(config: Config, http_port: int, version: str) -> DeviceFacts:
    profiles = []
    seen: set[str] = set()
    for camera in config.all_cameras:
        for stream in camera.streams:
            token = profile_token(stream.path)
            while token in seen:
                token += "_"
            seen.add(token)
            v = stream.video
            profiles.append(
                Profile(
                    token=token,
                    camera=camera.name,
                    path=stream.path,
                    width=v.width,
                    height=v.height,
                    fps=v.fps,
                    bitrate_kbps=v.bitrate_kbps,
                    gov_length=v.keyframe_distance,
                    codec=v.codec,
                    # x264 as configured makes High (docs/gstreamer.md, fact 22)
                    h264_profile="High",
                )
            )
    serial = machine_serial()
    return DeviceFacts(
        manufacturer=MANUFACTURER,
        model=MODEL,
        firmware=version,
        serial=serial,
        hardware_id=f"camera-streaming-{serial[:8].lower()}",
        hostname=socket.gethostname(),
        rtsp_port=config.rtsp.port,
        rtsp_scheme="rtsps" if config.rtsp.tls else "rtsp",
        http_port=http_port,
        profiles=tuple(profiles),
        discoverable=config.onvif.discovery,
    )
