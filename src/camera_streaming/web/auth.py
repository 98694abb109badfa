"""HTTP authentication for the side port against the RTSP users: Basic (RFC 7617) and Digest
(RFC 7616 with MD5 and qop=auth, what browsers, curl and urllib send).

Pure: no sockets and no HTTP library. `Authenticator.check()` takes a request's method, its
request-target and its Authorization header and returns a `Verdict`; `challenge()` gives the
WWW-Authenticate value to send with a 401. Syntactically broken credentials raise `BadCredentials`
(answer 400).

Digest nonces come from `secrets`. At most `max_nonces` are kept (the oldest is forgotten
first), each for `nonce_ttl_s`. A request whose response is right for its nonce but whose nonce
has expired, was forgotten or was never ours is refused with `stale=True`, so the client asks
again with a fresh nonce without prompting its user. Each nonce takes each nonce-count once,
within a window of `NC_WINDOW` below the highest seen: a browser's parallel requests may
arrive out of order, a replayed one is refused. Passwords and responses are compared in
constant time, and an unknown user costs the same work as a known one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

METHODS = ("none", "basic", "digest")
REALM = "camera-streaming"
NC_WINDOW = 64

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# One auth-param (RFC 9110 11.2): token BWS "=" BWS ( token / quoted-string ), then a comma
# or the end.
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*(?:,|$)')
_QUOTED_PAIR = re.compile(r"\\(.)")
_NC = re.compile(r"[0-9a-fA-F]{8}")


class BadCredentials(ValueError):
    """An Authorization header that does not parse: the request gets 400."""


@dataclass(frozen=True)
class Verdict:
    user: str | None = None  # who was authenticated; None: nobody
    stale: bool = False  # the digest was right but its nonce is no longer good

    @property
    def ok(self) -> bool:
        return self.user is not None


def parse_params(text: str) -> dict[str, str]:
    """`a=b, c="d e"` -> {"a": "b", "c": "d e"}; names lower-cased, quoted-pairs unescaped."""
    params: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _PARAM.match(text, pos)
        if m is None or m.end() == pos:
            raise BadCredentials(f"cannot parse auth parameters at {text[pos : pos + 20]!r}")
        name, quoted, token = m.group(1).lower(), m.group(2), m.group(3)
        if name in params:
            raise BadCredentials(f"auth parameter {name} given twice")
        params[name] = _QUOTED_PAIR.sub(r"\1", quoted) if quoted is not None else token
        pos = m.end()
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class Authenticator:
    """Checks requests against `users` with `method` ("basic" or "digest"); thread-safe."""

    def __init__(
        self,
        method: str,
        users: Mapping[str, str],
        realm: str = REALM,
        *,
        clock: Callable[[], float] = time.monotonic,
        nonce_ttl_s: float = 300.0,
        max_nonces: int = 1024,
        new_nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        if method not in ("basic", "digest"):
            raise ValueError(f"auth method must be basic or digest, got {method!r}")
        if not users:
            raise ValueError(f"auth {method} needs at least one user")
        self.method = method
        self.realm = realm
        self.clock = clock
        self.nonce_ttl_s = nonce_ttl_s
        self.max_nonces = max_nonces
        self.new_nonce = new_nonce
        self._passwords = {name: pw.encode("utf-8") for name, pw in users.items()}
        self._ha1 = {name: _md5(f"{name}:{realm}:{pw}") for name, pw in users.items()}
        # Compared against when the user is unknown, so that costs what a known user costs.
        self._dummy_password = secrets.token_bytes(16)
        self._dummy_ha1 = secrets.token_hex(16)
        # nonce -> [issued at, highest nonce-count seen, bitmap of the counts seen below it]
        self._nonces: OrderedDict[str, list[float | int]] = OrderedDict()
        self._lock = threading.Lock()

    # -- challenge ---------------------------------------------------------------------------
    def challenge(self, stale: bool = False) -> str:
        """The WWW-Authenticate value for a 401 (a fresh nonce for Digest)."""
        if self.method == "basic":
            return f'Basic realm="{self.realm}", charset="UTF-8"'
        nonce = self.new_nonce()
        now = self.clock()
        with self._lock:
            nonces = self._nonces
            while nonces and now - float(next(iter(nonces.values()))[0]) > self.nonce_ttl_s:
                nonces.popitem(last=False)
            nonces[nonce] = [now, 0, 0]
            while len(nonces) > self.max_nonces:
                nonces.popitem(last=False)
        flag = ", stale=true" if stale else ""
        return f'Digest realm="{self.realm}", qop="auth", algorithm=MD5, nonce="{nonce}"{flag}'

    @property
    def nonces(self) -> int:
        """How many nonces are kept."""
        return len(self._nonces)

    # -- check -------------------------------------------------------------------------------
    def check(
        self, method: str, target: str, authorization: str | None, *, basic_too: bool = False
    ) -> Verdict:
        """The verdict on one request. `target` is the request-target as sent (path and
        query); `basic_too` also takes Basic credentials when the method is Digest."""
        if not authorization:
            return Verdict()
        scheme, _, rest = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and (self.method == "basic" or basic_too):
            return self._check_basic(rest.strip())
        if scheme == "digest" and self.method == "digest":
            return self._check_digest(method, target, parse_params(rest))
        return Verdict()  # another scheme: challenge with ours

    def _check_basic(self, credentials: str) -> Verdict:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadCredentials("Basic credentials are not base64 of UTF-8") from None
        name, colon, password = decoded.partition(":")
        if not colon:
            raise BadCredentials("Basic credentials have no ':'")
        expected = self._passwords.get(name)
        same = hmac.compare_digest(
            password.encode("utf-8"), expected if expected is not None else self._dummy_password
        )
        return Verdict(name) if same and expected is not None else Verdict()

    def _check_digest(self, method: str, target: str, p: Mapping[str, str]) -> Verdict:
        missing = [k for k in ("username", "realm", "nonce", "uri", "response") if k not in p]
        if missing:
            raise BadCredentials(f"Digest credentials lack {', '.join(missing)}")
        if p.get("algorithm", "MD5").upper() != "MD5" or p.get("userhash", "false") != "false":
            return Verdict()  # not what we offered
        if p.get("qop") != "auth" or "cnonce" not in p or "nc" not in p:
            return Verdict()  # RFC 2069 digests (no qop) are not taken
        nc = p["nc"]
        if not _NC.fullmatch(nc):
            raise BadCredentials("Digest nc is not 8 hex digits")
        if p["realm"] != self.realm or p["uri"] != target:
            return Verdict()
        name, nonce = p["username"], p["nonce"]
        ha1 = self._ha1.get(name)
        ha2 = _md5(f"{method}:{p['uri']}")
        expected = _md5(f"{ha1 or self._dummy_ha1}:{nonce}:{nc}:{p['cnonce']}:auth:{ha2}")
        if not hmac.compare_digest(expected, p["response"].lower()) or ha1 is None:
            return Verdict()
        return Verdict(name) if self._use_nonce(nonce, int(nc, 16)) else Verdict(stale=True)

    def _use_nonce(self, nonce: str, nc: int) -> bool:
        """Count one use of `nonce` with nonce-count `nc`; False when the nonce is not ours,
        has expired, or this count was used already (or is too far behind)."""
        now = self.clock()
        with self._lock:
            entry = self._nonces.get(nonce)
            if entry is None or nc < 1:
                return False
            issued, top, seen = float(entry[0]), int(entry[1]), int(entry[2])
            if now - issued > self.nonce_ttl_s:
                del self._nonces[nonce]
                return False
            if nc > top:
                seen = ((seen << (nc - top)) | 1) & ((1 << NC_WINDOW) - 1)
                top = nc
            elif top - nc >= NC_WINDOW or seen & (1 << (top - nc)):
                return False
            else:
                seen |= 1 << (top - nc)
            entry[1], entry[2] = top, seen
            return True
