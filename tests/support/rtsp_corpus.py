"""A corpus of malformed and odd RTSP requests, and a seeded mutator, for the hostile-client tests.

Each `Case` is a list of chunks sent on one fresh TCP connection. Placeholders filled at run time:
`@URL@` the stream URL, `@CTL@` its control URL (`/stream=0`), `@SESSION@` the session id of a
SETUP done first when `setup` is set. `reset` closes with an RST instead of a FIN.
Cases known to crash gst-rtsp-server 1.22.0 would carry `crashes` with the reason (none found).
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field

CRLF = b"\r\n"


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    chunks: tuple[bytes, ...]
    setup: bool = False  # DESCRIBE + SETUP (TCP interleaved) first; @SESSION@ is its id
    reset: bool = False
    crashes: str = ""  # non-empty: known to crash the server (kept behind an xfail)
    tags: frozenset[str] = field(default_factory=frozenset)


def req(
    method: str = "OPTIONS",
    url: str = "@URL@",
    version: str = "RTSP/1.0",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    cseq: str | None = "1",
) -> bytes:
    lines = [f"{method} {url} {version}".encode("latin-1")]
    if cseq is not None:
        lines.append(b"CSeq: " + cseq.encode("latin-1"))
    for k, v in headers or []:
        lines.append(f"{k}: {v}".encode("latin-1", "replace"))
    return CRLF.join(lines) + CRLF + CRLF + body


def _methods() -> list[Case]:
    names = [
        "FOO",
        "describe",
        "GET",
        "POST",
        "PUT",
        "DELETE",
        "HEAD",
        "CONNECT",
        "TRACE",
        "PATCH",
        "ANNOUNCE",
        "RECORD",
        "REDIRECT",
        "SET_PARAMETER",
        "GET_PARAMETER",
        "PAUSE",
        "PLAY",
        "TEARDOWN",
        "SETUP",
        "OPTIONS\x00",
        "DESCRIBE\x01",
        "D" * 1000,
        "DES CRIBE",
        "\u00e9t\u00e9",
        "PLAY_NOW",
        "123",
        "-",
        "OPTIONS\t",
        "M-SEARCH",
        "NOTIFY",
    ]
    return [Case(f"method-{i}-{n[:12]!r}", "method", (req(n),)) for i, n in enumerate(names)]


def _versions() -> list[Case]:
    versions = [
        "RTSP/2.0",
        "RTSP/0.9",
        "RTSP/1.1",
        "HTTP/1.1",
        "HTTP/1.0",
        "RTSP/",
        "RTSP/1.0.0",
        "rtsp/1.0",
        "RTSP/99999999999999999999",
        "",
        "RTSP/1.0 extra",
        "RTSP/-1.0",
        "RTSP/1.x",
        "RTSP\\1.0",
        "RTSP/1.0\x00",
    ]
    return [Case(f"version-{i}", "version", (req(version=v),)) for i, v in enumerate(versions)]


def _cseq() -> list[Case]:
    out = [Case("cseq-missing", "cseq", (req(cseq=None),))]
    values = [
        "-1",
        "0",
        str(2**32),
        str(2**64),
        "abc",
        "",
        " ",
        "1.5",
        "1e9",
        "9" * 1000,
        "0x10",
        "1, 2",
        "\x00",
        "+1",
        "1 1",
    ]
    out += [Case(f"cseq-{i}", "cseq", (req(cseq=v),)) for i, v in enumerate(values)]
    out.append(Case("cseq-twice", "cseq", (req(headers=[("CSeq", "2")]),)))
    out.append(Case("cseq-describe-absurd", "cseq", (req("DESCRIBE", cseq="4294967296"),)))
    return out


def _headers() -> list[Case]:
    out = []
    for size in (1024, 8192, 65536, 262144, 1 << 20):
        out.append(Case(f"header-value-{size}", "header", (req(headers=[("X-Big", "a" * size)]),)))
        out.append(Case(f"header-name-{size}", "header", (req(headers=[("X" * size, "1")]),)))
    for count in (100, 1000, 10000):
        hdrs = [(f"X-H{i}", "v") for i in range(count)]
        out.append(Case(f"header-count-{count}", "header", (req(headers=hdrs),)))
    odd = [
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq 1\r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq:\r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\r\n: empty-name\r\nCSeq: 1\r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\n continued\r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\nCSeq: 1\n\n",
        b"OPTIONS @URL@ RTSP/1.0\rCSeq: 1\r\r",
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\nX: \x00\x01\x02\r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\nX: \xff\xfe\r\n\r\n",
        b"OPTIONS  @URL@  RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        b"\r\n\r\n\r\nOPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\nSession: \r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\nSession: " + b"s" * 5000 + b"\r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\nSession: abc;timeout=-5\r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\nRequire: " + b"x," * 2000 + b"\r\n\r\n",
        b"OPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\nAccept: " + b"*/*;" * 2000 + b"\r\n\r\n",
    ]
    out += [Case(f"header-odd-{i}", "header", (c,)) for i, c in enumerate(odd)]
    return out


def _bodies() -> list[Case]:
    def cl(value: str, body: bytes, method: str = "SET_PARAMETER") -> bytes:
        return req(method, headers=[("Content-Length", value)], body=body)

    cases = [
        ("cl-larger", cl("100", b"short")),
        ("cl-10MB-short", cl("10485760", b"x" * 100)),
        ("cl-negative", cl("-1", b"abc")),
        ("cl-text", cl("abc", b"abc")),
        ("cl-2^64", cl(str(2**64), b"abc")),
        ("cl-2^31", cl(str(2**31), b"abc")),
        ("cl-smaller", cl("2", b"abcdef")),
        ("cl-zero-with-body", cl("0", b"OPTIONS * RTSP/1.0\r\n\r\n")),
        ("cl-empty", cl("", b"abc")),
        (
            "cl-twice",
            req(
                "SET_PARAMETER",
                headers=[("Content-Length", "3"), ("Content-Length", "300")],
                body=b"abc",
            ),
        ),
        ("body-no-cl", req("SET_PARAMETER", body=b"param: 1\r\n")),
        ("body-1MB", cl(str(1 << 20), b"b" * (1 << 20))),
        ("body-4MB", cl(str(4 << 20), b"b" * (4 << 20))),
        ("get-param-body", cl("9", b"position\n", "GET_PARAMETER")),
        ("describe-with-body", cl("5", b"hello", "DESCRIBE")),
        (
            "announce-sdp",
            req(
                "ANNOUNCE",
                headers=[("Content-Type", "application/sdp"), ("Content-Length", "20")],
                body=b"v=0\r\n" * 4,
            ),
        ),
        ("cl-spaces", cl(" 3 ", b"abc")),
        ("cl-float", cl("3.5", b"abcd")),
        ("cl-hex", cl("0x10", b"abc")),
        ("options-body-binary", cl("256", bytes(range(256)), "OPTIONS")),
    ]
    return [Case(n, "body", (b,)) for n, b in cases]


def _transports() -> list[Case]:
    values = [
        "",
        "garbage",
        "RTP/AVP/TCP;unicast;interleaved=255-256",
        "RTP/AVP/TCP;interleaved=-1",
        "RTP/AVP/TCP;unicast;interleaved=0",
        "RTP/AVP;unicast;client_port=0-0",
        "RTP/AVP;unicast;client_port=70000-70001",
        "RTP/AVP;unicast;client_port=1",
        "RTP/AVP;multicast;destination=1.2.3.4;ttl=999",
        "RTP/AVP;unicast;destination=8.8.8.8",
        "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record",
        "RAW/RAW/UDP;unicast",
        ",".join(["RTP/AVP;unicast;client_port=5000-5001"] * 500),
        "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=zzzz",
        "RTP/SAVP;unicast;client_port=5000-5001",
        "RTP/AVP;unicast;client_port=5001-5000",
        "RTP/AVP/TCP;unicast;interleaved=" + "9" * 50,
        "RTP/AVP;unicast;client_port=a-b",
        "RTP/AVP;broadcast",
        "RTP/AVP/TCP;;;;;;;;",
        "RTP/AVP/UDP;unicast;client_port=5000-5001;source=1.1.1.1",
        'RTP/AVP;unicast;client_port=5000-5001;mode="PLAY"x',
    ]
    out = [
        Case(f"transport-{i}", "transport", (req("SETUP", "@CTL@", headers=[("Transport", v)]),))
        for i, v in enumerate(values)
    ]
    out.append(Case("setup-no-transport", "transport", (req("SETUP", "@CTL@"),)))
    out.append(
        Case(
            "setup-twice-same-channel",
            "transport",
            (
                req(
                    "SETUP",
                    "@CTL@",
                    headers=[
                        ("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
                        ("Session", "@SESSION@"),
                    ],
                    cseq="9",
                ),
            ),
            setup=True,
        )
    )
    return out


def _urls() -> list[Case]:
    base = "rtsp://127.0.0.1:1"
    urls = [
        "/../../etc/passwd",
        "@URL@/../../../../etc/passwd",
        "@URL@/%2e%2e/%2e%2e/etc/passwd",
        "@URL@%00",
        "@URL@/stream=99",
        "@URL@/stream=-1",
        "@URL@/stream=99999999999999999",
        "@URL@/" + "a" * 10000,
        "@URL@/" + "a" * 100000,
        "http://127.0.0.1/stream",
        "*",
        "",
        "rtsp://",
        "rtsp://:0/",
        "rtsp://other-host:554/stream",
        f"{base}/stream",
        "@URL@?x=" + "%" * 100,
        "@URL@\\..\\..",
        "rtsp://[::1/stream",
        "rtsp://a@b@c/",
        "@URL@/\u00e9\u00e8",
        "@URL@#frag",
        "@URL@;param",
        "/stream",
        "stream",
        "rtsp://127.0.0.1:99999999/stream",
        "@URL@//////",
        "@URL@/./././",
        "rtsp://user:pass@127.0.0.1/stream",
        "file:///etc/passwd",
    ]
    out = []
    for i, u in enumerate(urls):
        out.append(Case(f"url-describe-{i}", "url", (req("DESCRIBE", u),)))
    for i, u in enumerate(urls[:10]):
        out.append(
            Case(
                f"url-setup-{i}",
                "url",
                (req("SETUP", u, headers=[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]),),
            )
        )
    return out


def _garbage() -> list[Case]:
    rnd = random.Random(4)
    out = [
        Case(f"garbage-random-{n}", "binary", (bytes(rnd.randrange(256) for _ in range(n)),))
        for n in (1, 7, 64, 512, 4096, 65536)
    ]
    out += [
        Case("garbage-zeros", "binary", (b"\x00" * 4096,)),
        Case("garbage-ff", "binary", (b"\xff" * 4096,)),
        Case("garbage-crlf-flood", "binary", (CRLF * 20000,)),
        Case(
            "tls-client-hello",
            "binary",
            (
                bytes.fromhex("16030100a5010000a10303")
                + bytes(32)
                + b"\x00\x00\x02\x00\x2f\x01\x00",
            ),
        ),
        Case("http-get", "binary", (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",)),
        Case(
            "http-tunnel-get",
            "binary",
            (
                b"GET @URL@ HTTP/1.0\r\nx-sessioncookie: abc\r\n"
                b"Accept: application/x-rtsp-tunnelled\r\n\r\n",
            ),
        ),
        Case(
            "http-tunnel-post-garbage",
            "binary",
            (b"POST @URL@ HTTP/1.0\r\nx-sessioncookie: zzz\r\nContent-Length: 32767\r\n\r\n!!!!",),
        ),
        Case(
            "http-tunnel-post-b64",
            "binary",
            (
                b"POST @URL@ HTTP/1.0\r\nx-sessioncookie: abc"
                b"\r\nContent-Length: 32767\r\n\r\n" + base64.b64encode(req()),
            ),
        ),
        Case("dollar-first", "binary", (b"$\x00\x00\x04abcd" + req(),)),
        Case("dollar-huge-len", "binary", (b"$\x00\xff\xff" + b"x" * 100,)),
        Case("dollar-flood", "binary", (b"$\x01\x00\x01z" * 5000,)),
        Case("nul-in-request-line", "binary", (b"OPT\x00IONS @URL@ RTSP/1.0\r\nCSeq: 1\r\n\r\n",)),
        Case("utf16", "binary", (req().decode().encode("utf-16"),)),
        Case("only-crlf", "binary", (CRLF,)),
        Case("space-line", "binary", (b" \r\n\r\n",)),
    ]
    return out


def _half() -> list[Case]:
    full = req("DESCRIBE")
    out = [Case(f"half-{n}", "half", (full[:n],)) for n in (1, 8, 20, len(full) - 4, len(full) - 1)]
    out += [Case(f"half-reset-{n}", "half", (full[:n],), reset=True) for n in (5, 30)]
    out.append(Case("byte-by-byte", "half", tuple(full[i : i + 1] for i in range(len(full)))))
    out.append(
        Case(
            "body-never-comes",
            "half",
            (req("SET_PARAMETER", headers=[("Content-Length", "1000")], body=b"ab"),),
        )
    )
    out.append(Case("headers-never-end", "half", (b"OPTIONS @URL@ RTSP/1.0\r\nCSeq: 1\r\nX: y",)))
    return out


def _pipelined() -> list[Case]:
    opts = b"".join(req(cseq=str(i)) for i in range(1, 11))
    many = b"".join(req(cseq=str(i)) for i in range(1, 501))
    play = (
        req("DESCRIBE", cseq="1")
        + req(
            "SETUP",
            "@CTL@",
            cseq="2",
            headers=[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")],
        )
        + req("PLAY", cseq="3")
        + req("TEARDOWN", cseq="4")
    )
    return [
        Case("pipelined-10-options", "pipelined", (opts,)),
        Case("pipelined-500-options", "pipelined", (many,)),
        Case("pipelined-describe-setup-play", "pipelined", (play,)),
        Case("pipelined-then-reset", "pipelined", (play,), reset=True),
        Case(
            "pipelined-play-teardown-session",
            "pipelined",
            (
                req("PLAY", headers=[("Session", "@SESSION@")], cseq="3")
                + req("TEARDOWN", headers=[("Session", "@SESSION@")], cseq="4")
                + req("PLAY", headers=[("Session", "@SESSION@")], cseq="5"),
            ),
            setup=True,
        ),
        Case(
            "pipelined-mixed-garbage", "pipelined", (req() + b"\xff\xfe garbage\r\n\r\n" + req(),)
        ),
    ]


def _interleaved() -> list[Case]:
    def frame(ch: int, payload: bytes) -> bytes:
        return b"$" + bytes([ch]) + len(payload).to_bytes(2, "big") + payload

    out = []
    for ch in (0, 1, 2, 255):
        for n in (0, 12, 1400):
            out.append(
                Case(
                    f"interleaved-before-play-ch{ch}-{n}",
                    "interleaved",
                    (frame(ch, b"\x80" + bytes(max(0, n - 1))),),
                    setup=True,
                )
            )
    out.append(
        Case("interleaved-truncated", "interleaved", (b"$\x01\x10\x00" + b"x" * 10,), setup=True)
    )
    out.append(
        Case(
            "interleaved-rtcp-garbage-then-play",
            "interleaved",
            (
                frame(1, b"\x81\xc9\xff\xff" + b"\x00" * 60)
                + req("PLAY", headers=[("Session", "@SESSION@")], cseq="3"),
            ),
            setup=True,
        )
    )
    out.append(
        Case("interleaved-flood", "interleaved", (frame(1, b"\x80" * 64) * 2000,), setup=True)
    )
    return out


def _auth() -> list[Case]:
    values = [
        "Basic !!!",
        "Basic",
        "Basic ",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Basic " + base64.b64encode(b":").decode(),
        "Basic " + "A" * 100000,
        "Basic " + base64.b64encode(b"\x00\xff:\x00").decode(),
        "Digest",
        "Digest garbage",
        'Digest username="a"',
        'Digest username="a", realm="x", nonce="", uri="", response=""',
        'Digest username="' + "u" * 50000 + '"',
        'Digest username="a", nonce="zz", response=',
        "Digest username=a,realm=b,nonce=c,uri=d,response=e,,,,,",
        'Digest """"""""""',
        "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
        "Bearer xyz",
        "",
        "Basic YWxpY2U6czNjcmV0",
        'Digest username="alice", realm="GStreamer RTSP Server", '
        'nonce="0", uri="@URL@", response="' + "0" * 32 + '"',
    ]
    out = [
        Case(f"auth-{i}", "auth", (req("DESCRIBE", headers=[("Authorization", v)]),))
        for i, v in enumerate(values)
    ]
    out.append(
        Case(
            "auth-twice",
            "auth",
            (
                req(
                    "DESCRIBE",
                    headers=[("Authorization", "Basic YTpi"), ("Authorization", "Digest x")],
                ),
            ),
        )
    )
    return out


def _session() -> list[Case]:
    ops = [
        ("play-unknown-session", req("PLAY", headers=[("Session", "nosuchsession")])),
        ("teardown-unknown-session", req("TEARDOWN", headers=[("Session", "x" * 100)])),
        ("pause-no-session", req("PAUSE")),
        ("play-no-setup", req("PLAY")),
        (
            "play-range-garbage",
            req("PLAY", headers=[("Session", "@SESSION@"), ("Range", "npt=zz-yy")], cseq="3"),
        ),
        (
            "play-range-huge",
            req("PLAY", headers=[("Session", "@SESSION@"), ("Range", "npt=1e308-")], cseq="3"),
        ),
        (
            "play-scale",
            req("PLAY", headers=[("Session", "@SESSION@"), ("Scale", "-1000")], cseq="3"),
        ),
        ("play-speed", req("PLAY", headers=[("Session", "@SESSION@"), ("Speed", "0")], cseq="3")),
        ("pause-live", req("PAUSE", headers=[("Session", "@SESSION@")], cseq="3")),
        (
            "teardown-twice",
            req("TEARDOWN", headers=[("Session", "@SESSION@")], cseq="3")
            + req("TEARDOWN", headers=[("Session", "@SESSION@")], cseq="4"),
        ),
        (
            "get-parameter-keepalive",
            req("GET_PARAMETER", headers=[("Session", "@SESSION@")], cseq="3"),
        ),
        (
            "set-parameter-garbage",
            req(
                "SET_PARAMETER",
                headers=[("Session", "@SESSION@"), ("Content-Length", "6")],
                body=b"a: b\r\n",
                cseq="3",
            ),
        ),
        ("play-then-reset", req("PLAY", headers=[("Session", "@SESSION@")], cseq="3")),
        (
            "setup-other-session-id",
            req(
                "SETUP",
                "@CTL@",
                headers=[
                    ("Transport", "RTP/AVP/TCP;unicast;interleaved=2-3"),
                    ("Session", "bogus"),
                ],
                cseq="3",
            ),
        ),
    ]
    return [
        Case(
            n, "session", (b,), setup="@SESSION@" in b.decode("latin-1"), reset=n.endswith("reset")
        )
        for n, b in ops
    ]


def corpus() -> list[Case]:
    cases = (
        _methods()
        + _versions()
        + _cseq()
        + _headers()
        + _bodies()
        + _transports()
        + _urls()
        + _garbage()
        + _half()
        + _pipelined()
        + _interleaved()
        + _auth()
        + _session()
    )
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


SEEDS = (
    req("OPTIONS"),
    req("DESCRIBE", headers=[("Accept", "application/sdp")]),
    req("SETUP", "@CTL@", headers=[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]),
    req("PLAY", headers=[("Session", "@SESSION@"), ("Range", "npt=0.000-")]),
    req("GET_PARAMETER", headers=[("Session", "@SESSION@")]),
)


def mutate(data: bytes, rnd: random.Random) -> bytes:
    """One to four random edits: flip, insert, delete, duplicate, splice another seed, or a
    number swapped for an edge value."""
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(6)
        pos = rnd.randrange(len(buf) + 1) if buf else 0
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:
            buf[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
        elif op == 2 and buf:
            del buf[pos : pos + rnd.randint(1, 32)]
        elif op == 3 and buf:
            end = min(len(buf), pos + rnd.randint(1, 64))
            buf[pos:pos] = buf[pos:end] * rnd.randint(1, 50)
        elif op == 4:
            buf[pos:pos] = rnd.choice(SEEDS)
        else:
            edge = rnd.choice([b"0", b"-1", b"4294967296", b"99999999999999999999", b"", b"%n"])
            buf[pos:pos] = edge
    return bytes(buf)
