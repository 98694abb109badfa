"""The WS-Discovery responder: UDP port 3702 joined to 239.255.255.250 on every IPv4
interface, ProbeMatches to matching Probes (multicast or sent straight to the port) and
ResolveMatches to Resolves for our endpoint, Hello at start and Bye at stop.

Written here rather than taken from the `WSDiscovery` package: that package parses network
input with minidom (no DTD or entity limits), binds port 3702 only, keeps every message id
it ever saw (a set that grows for the life of the process), polls its sockets ten times a
second from four threads, raises from start() when the port is taken, and advertises fixed
XAddrs instead of the address of the interface a Probe arrived on. This responder is one
thread blocked in select(), parses with defusedxml, keeps no per-message state, and learns
the receiving interface's address from IP_PKTINFO.

The endpoint address is a uuid5 of the machine id (/etc/machine-id) and the HTTP port: the
same across restarts, different for two instances on one machine, with no state to store.
"""

from __future__ import annotations

import ipaddress
import logging
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil

from . import wsd
from .model import DEVICE_PATH, DeviceFacts, scopes

log = logging.getLogger(__name__)

GROUP = "239.255.255.250"
PORT = 3702
# Linux's IP_PKTINFO (the socket module does not always export it) and struct in_pktinfo.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
_PKTINFO = struct.Struct("=i4s4s")  # ifindex, spec_dst (local address), addr (destination)
_RESCAN_SECONDS = 30.0  # interfaces that come up later (DHCP, Wi-Fi) are joined then
_NAMESPACE = uuid.UUID("5b0c3a52-7f0e-4c4e-9a43-5f1e3f0c9d21")
MACHINE_ID = Path("/etc/machine-id")


def endpoint_address(http_port: int, machine_id: Path = MACHINE_ID) -> str:
    """urn:uuid:... from the machine id and the HTTP port; the hostname and the first MAC
    address stand in for a missing machine id."""
    try:
        mid = machine_id.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        mid = ""
    if not mid:
        mid = f"{socket.gethostname()}/{uuid.getnode():012x}"
    return uuid.uuid5(_NAMESPACE, f"{mid}:{http_port}").urn


def local_ipv4() -> list[tuple[str, ipaddress.IPv4Network]]:
    """(address, network) of every IPv4 address on an interface that is up."""
    stats = psutil.net_if_stats()
    found = []
    for name, addrs in psutil.net_if_addrs().items():
        st = stats.get(name)
        if st is None or not st.isup:
            continue
        for a in addrs:
            if a.family == socket.AF_INET and a.address:
                net = ipaddress.IPv4Network(f"{a.address}/{a.netmask or '32'}", strict=False)
                found.append((a.address, net))
    return found


class DiscoveryResponder:
    """Answers WS-Discovery for the device `facts()` describes. `start()` never raises: when
    the port is taken or no multicast group can be joined it warns once and carries on with
    what works."""

    def __init__(
        self,
        facts: Callable[[], DeviceFacts],
        port: int = PORT,
        *,
        group: str = GROUP,
        machine_id: Path = MACHINE_ID,
        addresses: Callable[[], list[tuple[str, ipaddress.IPv4Network]]] = local_ipv4,
    ) -> None:
        self._facts = facts
        self._wanted_port = port
        self._group = group
        self._machine_id = machine_id
        self._addresses = addresses
        self._sock: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._joined: set[str] = set()
        self._endpoint: str | None = None
        self._instance_id = 0
        self._number = 0
        self._lock = threading.Lock()
        self.port: int | None = None  # the bound port while serving

    @property
    def endpoint(self) -> str:
        if self._endpoint is None:
            self._endpoint = endpoint_address(self._facts().http_port, self._machine_id)
        return self._endpoint

    def start(self) -> None:
        if self._thread is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.bind(("", self._wanted_port))
        except OSError as exc:
            sock.close()
            log.warning(
                "WS-Discovery off: cannot bind UDP port %d (%s); the ONVIF services still "
                "answer at their URL",
                self._wanted_port,
                exc.strerror or exc,
            )
            return
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._instance_id = int(time.time())
        self._stop.clear()
        self._wake_r, self._wake_w = socket.socketpair()
        if not self._join_new() and not self._joined:
            log.warning(
                "WS-Discovery: could not join %s on any interface; answering Probes sent "
                "straight to port %d only",
                self._group,
                self.port,
            )
        self._thread = threading.Thread(target=self._run, name="onvif-discovery", daemon=True)
        self._thread.start()
        log.info("WS-Discovery on UDP %d as %s", self.port, self.endpoint)

    def stop(self, timeout: float = 2.0) -> None:
        """Send Bye, stop the thread (bounded join) and close the socket."""
        thread, sock = self._thread, self._sock
        if thread is None or sock is None:
            return
        self._stop.set()
        if self._wake_w is not None:
            self._wake_w.send(b"x")
        thread.join(timeout)
        if thread.is_alive():
            log.warning("WS-Discovery thread did not stop within %.1f s", timeout)
        try:
            self._announce(wsd.bye)
        except Exception:
            log.exception("WS-Discovery: cannot send Bye")
        for s in (sock, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._thread = self._sock = self._wake_r = self._wake_w = None
        self._joined.clear()
        self.port = None

    # The thread

    def _run(self) -> None:
        assert self._sock is not None and self._wake_r is not None
        try:
            self._announce(wsd.hello)
        except Exception:
            log.exception("WS-Discovery: cannot send Hello")
        rescan = time.monotonic() + _RESCAN_SECONDS
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._sock, self._wake_r], [], [], _RESCAN_SECONDS)
                if self._sock in ready:
                    self._receive()
                if time.monotonic() >= rescan:
                    rescan = time.monotonic() + _RESCAN_SECONDS
                    if self._join_new():
                        self._announce(wsd.hello)
            except Exception:  # one bad datagram or interface must not end discovery
                log.exception("WS-Discovery: error handling a datagram")

    def _receive(self) -> None:
        assert self._sock is not None
        try:
            data, ancdata, _, sender = self._sock.recvmsg(65535, socket.CMSG_SPACE(12))
        except (BlockingIOError, InterruptedError):
            return
        message = wsd.parse(data)
        if message is None:
            return
        local = self._local_address(ancdata, sender[0])
        target = self._target(local)
        if isinstance(message, wsd.Probe):
            if not wsd.matches(message, target):
                return
            reply = wsd.probe_matches(target, message.message_id, *self._next())
        elif message.address == target.endpoint:
            reply = wsd.resolve_matches(target, message.message_id, *self._next())
        else:
            return
        self._sock.sendto(reply, sender)

    def _local_address(self, ancdata: list[tuple[int, int, bytes]], sender: str) -> str | None:
        """The address of the interface the datagram arrived on: IP_PKTINFO's local
        address, else ours whose network holds the sender, else the route's source."""
        for level, kind, data in ancdata:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= _PKTINFO.size:
                _, spec_dst, _ = _PKTINFO.unpack(data[: _PKTINFO.size])
                address = socket.inet_ntoa(spec_dst)
                if address != "0.0.0.0":
                    return address
        try:
            ip = ipaddress.IPv4Address(sender)
            for address, net in self._addresses():
                if ip in net:
                    return address
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((sender, 9))  # no packet is sent: only a route lookup
                return str(probe.getsockname()[0])
        except (OSError, ValueError):
            return None

    def _target(self, local: str | None) -> wsd.Target:
        facts = self._facts()
        host = local or facts.hostname or "localhost"
        port = "" if facts.http_port == 80 else f":{facts.http_port}"
        return wsd.Target(self.endpoint, f"http://{host}{port}{DEVICE_PATH}", scopes(facts))

    def _next(self) -> tuple[int, int]:
        with self._lock:
            self._number += 1
            return self._instance_id, self._number

    # Multicast

    def _join_new(self) -> bool:
        """Join the group on interfaces not joined yet; True when one was joined."""
        assert self._sock is not None
        joined_any = False
        for address, _ in self._addresses():
            if address in self._joined:
                continue
            mreq = socket.inet_aton(self._group) + socket.inet_aton(address)
            try:
                self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            except OSError as exc:
                log.debug("WS-Discovery: cannot join %s on %s: %s", self._group, address, exc)
                continue
            self._joined.add(address)
            joined_any = True
        return joined_any

    def _announce(self, message: Callable[[wsd.Target, int, int], bytes]) -> None:
        """Hello or Bye to the group on every joined interface, each with its own XAddrs."""
        sock = self._sock
        if sock is None:
            return
        for address in sorted(self._joined):
            try:
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address)
                )
                sock.sendto(message(self._target(address), *self._next()), (self._group, self.port))
            except OSError as exc:
                log.debug("WS-Discovery: cannot announce on %s: %s", address, exc)
