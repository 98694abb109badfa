"""A small raw RTSP client for tests and benchmarks: DESCRIBE/SETUP/PLAY over TCP interleaved,
then reads RTP and reports when the first H.264 IDR slice arrived.

Standard library only; every socket operation has a timeout.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import time
from dataclasses import dataclass, field


class RtspProbeError(Exception):
    """The server answered with something other than 200, or the connection failed."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class PlayResult:
    """What one PLAY saw: times are monotonic seconds."""

    play_sent: float
    first_rtp: float | None = None
    first_idr: float | None = None
    rtp_packets: int = 0
    nal_types: list[int] = field(default_factory=list)

    @property
    def idr_delay(self) -> float | None:
        return None if self.first_idr is None else self.first_idr - self.play_sent


class RtspProbe:
    """One RTSP control connection. Use as a context manager; `close()` resets nothing on its own:
    call `teardown()` for a clean exit or `reset()` to vanish with an RST."""

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        user: str | None = None,
        password: str | None = None,
        rcvbuf: int = 0,
    ) -> None:
        self.url = url
        rest = url.split("://", 1)[1]
        hostport = rest.split("/", 1)[0]
        host, _, port = hostport.partition(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # a small receive window makes a client that stops reading stall at once
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((host, int(port or 554)))
        except OSError:
            self.sock.close()
            raise
        self.cseq = 0
        self.session: str | None = None
        self.buf = b""
        self.user = user
        self.password = password
        self._auth_header: str | None = None

    def __enter__(self) -> RtspProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self) -> None:
        """Close with an RST (SO_LINGER 0), as a crashed client would."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def _recv_more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RtspProbeError("connection closed by server")
        self.buf += chunk

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_response(self) -> Response:
        """Read one RTSP response, skipping interleaved RTP frames before it."""
        while True:
            while len(self.buf) < 4:
                self._recv_more()
            if self.buf[0:1] == b"$":
                length = struct.unpack(">H", self.buf[2:4])[0]
                while len(self.buf) < 4 + length:
                    self._recv_more()
                self.buf = self.buf[4 + length :]
                continue
            while b"\r\n\r\n" not in self.buf:
                self._recv_more()
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._recv_more()
            body, self.buf = self.buf[:n], self.buf[n:]
            return Response(status, headers, body)

    def request(
        self, method: str, url: str | None = None, headers: dict | None = None, check: bool = True
    ) -> Response:
        self.cseq += 1
        target = url or self.url
        lines = [f"{method} {target} RTSP/1.0", f"CSeq: {self.cseq}", "User-Agent: rtsp-probe"]
        if self.session:
            lines.append(f"Session: {self.session}")
        if self._auth_header:
            lines.append(self._authorization(method, target))
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        resp = self.read_response()
        if resp.status == 401 and self.user is not None and self._auth_header is None:
            self._prepare_auth(resp.headers.get("www-authenticate", ""))
            return self.request(method, url, headers, check)
        if check and resp.status != 200:
            raise RtspProbeError(f"{method} answered {resp.status}", resp.status)
        return resp

    def _prepare_auth(self, challenge: str) -> None:
        user, pw = self.user or "", self.password or ""
        if challenge.lower().startswith("basic"):
            token = base64.b64encode(f"{user}:{pw}".encode()).decode()
            self._auth_header = f"Authorization: Basic {token}"
            return
        params = {}
        for part in challenge[len("Digest ") :].split(","):
            k, _, v = part.strip().partition("=")
            params[k] = v.strip('"')
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        ha1 = hashlib.md5(f"{user}:{realm}:{pw}".encode()).hexdigest()
        # The URI and method are filled per request; the response is computed there.
        self._digest = (ha1, realm, nonce, user)
        self._auth_header = "@DIGEST@"

    def _authorization(self, method: str, uri: str) -> str:
        assert self._auth_header is not None
        if self._auth_header == "@DIGEST@":
            return self._digest_header(method, uri)
        return self._auth_header

    def _digest_header(self, method: str, uri: str) -> str:
        ha1, realm, nonce, user = self._digest
        ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
        resp = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        return (
            f'Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}"'
        )

    def describe(self) -> Response:
        return self.request("DESCRIBE", headers={"Accept": "application/sdp"})

    def control_url(self, sdp: bytes) -> str:
        for line in sdp.decode("latin-1").splitlines():
            if line.startswith("a=control:") and "stream" in line:
                ctl = line[len("a=control:") :].strip()
                return ctl if "://" in ctl else self.url.rstrip("/") + "/" + ctl
        return self.url.rstrip("/") + "/stream=0"

    def setup_tcp(self, control: str) -> Response:
        resp = self.request("SETUP", control, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        self.session = resp.headers.get("session", "").split(";")[0]
        return resp

    def setup_udp(self, control: str, client_port: int) -> Response:
        resp = self.request(
            "SETUP",
            control,
            {"Transport": f"RTP/AVP;unicast;client_port={client_port}-{client_port + 1}"},
        )
        self.session = resp.headers.get("session", "").split(";")[0]
        return resp

    def play_until_idr(self, timeout: float = 3.0, max_packets: int = 100000) -> PlayResult:
        """Send PLAY and read interleaved RTP until the first IDR NAL unit (type 5)."""
        self.cseq += 1
        lines = [
            f"PLAY {self.url} RTSP/1.0",
            f"CSeq: {self.cseq}",
            f"Session: {self.session}",
            "Range: npt=0.000-",
        ]
        if self._auth_header:
            lines.append(self._authorization("PLAY", self.url))
        result = PlayResult(play_sent=time.monotonic())
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = result.play_sent + timeout
        got_reply = False
        while time.monotonic() < deadline and result.rtp_packets < max_packets:
            while len(self.buf) < 4:
                self._recv_more()
            if self.buf[0:1] != b"$":
                resp = self.read_response()
                if resp.status != 200:
                    raise RtspProbeError(f"PLAY answered {resp.status}", resp.status)
                got_reply = True
                continue
            channel = self.buf[1]
            length = struct.unpack(">H", self.buf[2:4])[0]
            while len(self.buf) < 4 + length:
                self._recv_more()
            pkt, self.buf = self.buf[4 : 4 + length], self.buf[4 + length :]
            if channel != 0 or len(pkt) < 13:
                continue
            now = time.monotonic()
            result.rtp_packets += 1
            if result.first_rtp is None:
                result.first_rtp = now
            for nal in nal_types(pkt):
                if len(result.nal_types) < 64:
                    result.nal_types.append(nal)
                if nal == 5 and result.first_idr is None:
                    result.first_idr = now
            if result.first_idr is not None and got_reply:
                break
        return result

    def teardown(self) -> None:
        self.request("TEARDOWN", check=False)


def nal_types(rtp: bytes) -> list[int]:
    """H.264 NAL unit types carried by one RTP packet (single, STAP-A, FU-A start)."""
    cc = rtp[0] & 0x0F
    off = 12 + 4 * cc
    if rtp[0] & 0x10 and len(rtp) >= off + 4:  # header extension
        off += 4 + 4 * struct.unpack(">H", rtp[off + 2 : off + 4])[0]
    payload = rtp[off:]
    if not payload:
        return []
    t = payload[0] & 0x1F
    if t == 24:  # STAP-A
        out, i = [], 1
        while i + 2 < len(payload):
            size = struct.unpack(">H", payload[i : i + 2])[0]
            if i + 2 < len(payload):
                out.append(payload[i + 2] & 0x1F)
            i += 2 + size
        return out
    if t == 28:  # FU-A: only the start fragment names a NAL unit
        if len(payload) > 1 and payload[1] & 0x80:
            return [payload[1] & 0x1F]
        return []
    return [t]
