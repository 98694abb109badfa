"""The board's network settings as GetNetworkInterfaces, GetDNS and GetNTP report them: read
from psutil and the usual configuration files, never changed."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

RESOLV_CONF = Path("/etc/resolv.conf")
NTP_CONFIGS = (
    Path("/etc/systemd/timesyncd.conf"),
    Path("/etc/chrony/chrony.conf"),
    Path("/etc/chrony.conf"),
    Path("/etc/ntp.conf"),
    Path("/etc/ntpsec/ntp.conf"),
)
_NO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str
    up: bool
    mtu: int
    speed_mbps: int  # 0 when unknown
    full_duplex: bool
    ipv4: tuple[tuple[str, int], ...]  # (address, prefix length)
    wireless: bool


def network_interfaces() -> list[Interface]:
    """Interfaces with a hardware address, loopback left out unless it is the only one."""
    addrs = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    found: list[Interface] = []
    for name, entries in sorted(addrs.items()):
        mac = next((a.address for a in entries if a.family == psutil.AF_LINK), None)
        if mac is None:
            continue
        ipv4 = tuple(
            (a.address, _prefix_length(a.netmask))
            for a in entries
            if a.family == socket.AF_INET and a.address
        )
        st = stats.get(name)
        found.append(
            Interface(
                name=name,
                mac=mac.lower(),
                up=bool(st and st.isup),
                mtu=st.mtu if st else 0,
                speed_mbps=st.speed if st else 0,
                full_duplex=not (st and st.duplex == psutil.NIC_DUPLEX_HALF),
                ipv4=ipv4,
                wireless=Path(f"/sys/class/net/{name}/wireless").exists(),
            )
        )
    real = [i for i in found if i.mac != _NO_MAC]
    return real or found


def _prefix_length(netmask: str | None) -> int:
    if not netmask:
        return 32
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen
    except ValueError:
        return 32


@dataclass(frozen=True)
class Dns:
    search: tuple[str, ...]
    servers: tuple[str, ...]


def dns(path: Path = RESOLV_CONF) -> Dns:
    search: list[str] = []
    servers: list[str] = []
    for words in _config_lines(path):
        if words[0] == "nameserver" and len(words) > 1 and _is_ip(words[1]):
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            search.extend(w for w in words[1:] if _is_token(w))
    return Dns(tuple(dict.fromkeys(search)), tuple(dict.fromkeys(servers)))


def ntp_servers(paths: tuple[Path, ...] = NTP_CONFIGS) -> tuple[str, ...]:
    """Servers from timesyncd's `NTP=` and chrony's or ntpd's `server`/`pool` lines."""
    found: list[str] = []
    for path in paths:
        for words in _config_lines(path):
            if words[0].startswith("NTP="):
                found.extend(w for w in [words[0][4:], *words[1:]] if _is_token(w))
            elif words[0] in ("server", "pool") and len(words) > 1 and _is_token(words[1]):
                found.append(words[1])
    return tuple(dict.fromkeys(found))


def _config_lines(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:65536]
    except OSError:
        return []
    lines = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            lines.append(words)
    return lines


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_token(text: str) -> bool:
    return 0 < len(text) <= 253 and all(c.isalnum() or c in ".-_:" for c in text)


def ip_version(text: str) -> int:
    return ipaddress.ip_address(text).version
