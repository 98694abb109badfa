"""WS-Security UsernameToken with PasswordDigest, checked against the users table, with replay
protection.

PasswordDigest = base64(sha1(nonce + created + password)). A token is accepted when the user
exists, the digest matches, its Created time is within `window` seconds of the clock (either
way) and its nonce has not been seen in the last `nonce_ttl` seconds. PasswordText is refused:
over plain HTTP it would carry the password in the clear, and every ONVIF client sends
digests. Nonces are remembered only for accepted tokens (so unauthenticated requests cannot
fill the table), at most `max_nonces` of them, the oldest dropped first.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from .soap import WSSE

log = logging.getLogger(__name__)

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_DIGEST = _PROFILE + "#PasswordDigest"
PASSWORD_TEXT = _PROFILE + "#PasswordText"

_CREATED = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?"
)
_MAX_NONCE_BYTES = 256


class AuthError(Exception):
    """Why a token was refused: logged, never sent to the client."""


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str  # the digest, base64, as sent
    password_type: str
    nonce: bytes | None
    created: str | None  # exactly as sent: the digest covers these characters


def username_token(security: Element) -> UsernameToken:
    """The UsernameToken of a wsse:Security header block."""
    token = security.find(f"{{{WSSE}}}UsernameToken")
    if token is None:
        raise AuthError("no UsernameToken in the Security header")
    username = token.find(f"{{{WSSE}}}Username")
    password = token.find(f"{{{WSSE}}}Password")
    if username is None or password is None:
        raise AuthError("UsernameToken without Username or Password")
    nonce_el = token.find(f"{{{WSSE}}}Nonce")
    created_el = token.find(f"{{{WSU}}}Created")
    nonce: bytes | None = None
    if nonce_el is not None:
        encoding = nonce_el.get("EncodingType", "")
        if encoding and not encoding.endswith("#Base64Binary"):
            raise AuthError(f"nonce encoding {encoding[-40:]!r} is not Base64Binary")
        try:
            nonce = base64.b64decode((nonce_el.text or "").strip(), validate=True)
        except (binascii.Error, ValueError):
            raise AuthError("nonce is not base64") from None
    return UsernameToken(
        username=(username.text or "").strip(),
        password=(password.text or "").strip(),
        password_type=password.get("Type", PASSWORD_TEXT).strip(),
        nonce=nonce,
        created=created_el.text if created_el is not None else None,
    )


def password_digest(nonce: bytes, created: str, password: str) -> str:
    raw = nonce + created.encode("utf-8") + password.encode("utf-8")
    return base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii")


def parse_created(text: str) -> float:
    """An xs:dateTime as seconds since the epoch; no zone means UTC."""
    m = _CREATED.fullmatch(text.strip())
    if m is None:
        raise AuthError("Created is not an xs:dateTime")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        t = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        raise AuthError("Created is out of range") from None
    zone = m.group(7)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        t -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return float(t)


class UsernameTokenCheck:
    """Checks UsernameTokens against `users` (name -> password) at `clock()` time."""

    def __init__(
        self,
        users: Mapping[str, str],
        clock: Callable[[], float],
        window: float = 300.0,
        nonce_ttl: float = 600.0,
        max_nonces: int = 4096,
    ) -> None:
        self._users = users
        self._clock = clock
        self._window = window
        self._nonce_ttl = nonce_ttl
        self._max_nonces = max_nonces
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, token: UsernameToken) -> str:
        """The user name when `token` is good; AuthError saying why when not."""
        if token.password_type != PASSWORD_DIGEST:
            raise AuthError("only PasswordDigest is accepted")
        if token.nonce is None or token.created is None:
            raise AuthError("PasswordDigest without Nonce or Created")
        if not 0 < len(token.nonce) <= _MAX_NONCE_BYTES:
            raise AuthError("nonce length out of range")
        password = self._users.get(token.username)
        expected = password_digest(token.nonce, token.created, password or "")
        if password is None or not hmac.compare_digest(expected, token.password):
            raise AuthError(f"wrong user or password for {token.username[:64]!r}")
        now = self._clock()
        if abs(now - parse_created(token.created)) > self._window:
            raise AuthError("Created is outside the accepted window")
        key = hashlib.sha256(token.nonce).digest()
        with self._lock:
            self._forget_before(now - self._nonce_ttl)
            if key in self._seen:
                raise AuthError("nonce replayed")
            self._seen[key] = now
            while len(self._seen) > self._max_nonces:
                self._seen.popitem(last=False)
        return token.username

    def remembered(self) -> int:
        with self._lock:
            return len(self._seen)

    def _forget_before(self, oldest: float) -> None:
        while self._seen:
            key, seen = next(iter(self._seen.items()))
            if seen >= oldest:
                break
            del self._seen[key]
