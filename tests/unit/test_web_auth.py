"""web/auth.py on its own: Basic and Digest verdicts, nonce expiry with an injected clock,
the nonce table's bound, nonce-count replays, and header parsing."""

from __future__ import annotations

import base64
import hashlib
import itertools

import pytest

from camera_streaming.web.auth import (
    NC_WINDOW,
    Authenticator,
    BadCredentials,
    Verdict,
    parse_params,
)
from support.fakes import FakeClock

# RFC 7616 section 3.9.1, the MD5 example.
RFC_REALM = "http-auth@example.org"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_AUTHORIZATION = (
    'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
    'algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
    'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
    'response="8ca523f5e9506fed4657c9700eebdbec", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
USERS = {"alice": "s3cret:x", "zoë": "pässword"}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def nonce_of(challenge: str) -> str:
    return parse_params(challenge.split(" ", 1)[1])["nonce"]


def digest(
    user: str,
    password: str,
    nonce: str,
    nc: int = 1,
    method: str = "GET",
    uri: str = "/api/status",
    realm: str = "camera-streaming",
    **extra: str,
) -> str:
    """What a client sends for qop=auth."""
    cnonce = "0a4f113b"
    ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{method}:{uri}")
    response = md5(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
    params = {"username": f'"{user}"', "realm": f'"{realm}"', "nonce": f'"{nonce}"',
              "uri": f'"{uri}"', "qop": "auth", "nc": f"{nc:08x}", "cnonce": f'"{cnonce}"',
              "response": f'"{response}"', "algorithm": "MD5", **extra}  # fmt: skip
    return "Digest " + ", ".join(f"{k}={v}" for k, v in params.items())


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def auth(clock: FakeClock) -> Authenticator:
    return Authenticator("digest", USERS, clock=clock, nonce_ttl_s=60, max_nonces=8)


def test_the_rfc_7616_md5_example() -> None:
    auth = Authenticator("digest", {"Mufasa": "Circle of Life"}, RFC_REALM,
                         new_nonce=lambda: RFC_NONCE)  # fmt: skip
    assert f'nonce="{RFC_NONCE}"' in auth.challenge()
    assert auth.check("GET", "/dir/index.html", RFC_AUTHORIZATION) == Verdict("Mufasa")
    # the same request again is a replay
    assert auth.check("GET", "/dir/index.html", RFC_AUTHORIZATION) == Verdict(stale=True)


def test_the_challenges() -> None:
    auth = Authenticator("digest", USERS)
    first, second = auth.challenge(), auth.challenge(stale=True)
    assert first.startswith('Digest realm="camera-streaming", qop="auth", algorithm=MD5, nonce="')
    assert second.endswith(", stale=true") and nonce_of(first) != nonce_of(second)
    assert len(nonce_of(first)) == 32
    assert Authenticator("basic", USERS).challenge() == (
        'Basic realm="camera-streaming", charset="UTF-8"'
    )


def test_digest_right_wrong_and_unknown(auth: Authenticator) -> None:
    nonce = nonce_of(auth.challenge())
    assert auth.check("GET", "/api/status", None) == Verdict()
    assert auth.check("GET", "/api/status", digest("alice", "s3cret:x", nonce)).user == "alice"
    assert auth.check("GET", "/api/status", digest("alice", "nope", nonce, 2)) == Verdict()
    assert auth.check("GET", "/api/status", digest("mallory", "s3cret:x", nonce, 3)) == Verdict()
    assert auth.check("GET", "/api/status", digest("zoë", "pässword", nonce, 4)).user == "zoë"


def test_digest_is_bound_to_the_method_target_and_realm(auth: Authenticator) -> None:
    nonce = nonce_of(auth.challenge())
    sent = digest("alice", "s3cret:x", nonce, uri="/api/status?x=1")
    assert not auth.check("GET", "/api/status", sent).ok  # uri is not the request-target
    assert not auth.check("HEAD", "/api/status?x=1", sent).ok  # computed for GET
    assert auth.check("GET", "/api/status?x=1", sent).ok
    other_realm = digest("alice", "s3cret:x", nonce, 2, realm="elsewhere")
    assert not auth.check("GET", "/api/status", other_realm).ok


def test_digest_takes_only_md5_with_qop_auth(auth: Authenticator) -> None:
    nonce = nonce_of(auth.challenge())
    good = digest("alice", "s3cret:x", nonce)
    assert not auth.check(
        "GET", "/api/status", good.replace("algorithm=MD5", "algorithm=SHA-256")
    ).ok
    assert not auth.check("GET", "/api/status", good.replace("qop=auth", "qop=auth-int")).ok
    assert not auth.check(
        "GET", "/api/status", digest("alice", "s3cret:x", nonce, userhash="true")
    ).ok
    # RFC 2069 style, without qop, cnonce and nc
    ha1, ha2 = md5("alice:camera-streaming:s3cret:x"), md5("GET:/api/status")
    old = (f'Digest username="alice", realm="camera-streaming", nonce="{nonce}", '
           f'uri="/api/status", response="{md5(f"{ha1}:{nonce}:{ha2}")}"')  # fmt: skip
    assert not auth.check("GET", "/api/status", old).ok
    assert auth.check("GET", "/api/status", good).ok  # the nonce is still good


def test_an_expired_nonce_is_stale(auth: Authenticator, clock: FakeClock) -> None:
    nonce = nonce_of(auth.challenge())
    assert auth.check("GET", "/api/status", digest("alice", "s3cret:x", nonce, 1)).ok
    clock.advance(59)
    assert auth.check("GET", "/api/status", digest("alice", "s3cret:x", nonce, 2)).ok
    clock.advance(2)
    assert auth.check("GET", "/api/status", digest("alice", "s3cret:x", nonce, 3)) == Verdict(
        stale=True
    )
    # a wrong password on an expired nonce is just wrong, not stale
    assert auth.check("GET", "/api/status", digest("alice", "nope", nonce, 4)) == Verdict()
    fresh = nonce_of(auth.challenge())
    assert auth.check("GET", "/api/status", digest("alice", "s3cret:x", fresh)).ok


def test_a_nonce_we_never_gave_is_stale(auth: Authenticator) -> None:
    forged = "00" * 16
    assert auth.check("GET", "/api/status", digest("alice", "s3cret:x", forged)) == Verdict(
        stale=True
    )
    assert auth.check("GET", "/api/status", digest("alice", "nope", forged)) == Verdict()


def test_the_nonce_table_is_bounded(auth: Authenticator, clock: FakeClock) -> None:
    first = nonce_of(auth.challenge())
    others = [nonce_of(auth.challenge()) for _ in range(20)]
    assert auth.nonces == 8
    assert auth.check("GET", "/api/status", digest("alice", "s3cret:x", first)).stale
    assert auth.check("GET", "/api/status", digest("alice", "s3cret:x", others[-1])).ok
    clock.advance(61)
    auth.challenge()  # issuing drops the expired ones
    assert auth.nonces == 1


def test_nonce_counts_are_taken_once_and_out_of_order(auth: Authenticator) -> None:
    nonce = nonce_of(auth.challenge())

    def check(nc: int) -> Verdict:
        return auth.check("GET", "/api/status", digest("alice", "s3cret:x", nonce, nc))

    assert check(0).stale  # counts start at 1
    assert check(1).ok and check(3).ok and check(2).ok  # parallel requests may cross
    assert check(2).stale and check(3).stale  # replays
    top = 10 + NC_WINDOW
    assert check(top).ok
    assert check(top - NC_WINDOW + 1).ok  # still in the window
    assert check(top - NC_WINDOW).stale  # too far behind to tell: refused
    assert check(top + 1000).ok and check(top + 999).ok


def test_basic(clock: FakeClock) -> None:
    auth = Authenticator("basic", USERS, clock=clock)
    assert auth.check("GET", "/", basic("alice", "s3cret:x")) == Verdict("alice")
    assert auth.check("GET", "/", basic("zoë", "pässword")) == Verdict("zoë")
    assert auth.check("GET", "/", "basic " + basic("alice", "s3cret:x")[6:]).ok  # any case
    assert auth.check("GET", "/", basic("alice", "s3cret")) == Verdict()
    assert auth.check("GET", "/", basic("bob", "s3cret:x")) == Verdict()
    assert auth.check("GET", "/", "Bearer abc") == Verdict()
    assert auth.check("GET", "/", digest("alice", "s3cret:x", "00" * 16)) == Verdict()
    for bad in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(),
                "Basic " + base64.b64encode(b"\xff\xfe:x").decode()):  # fmt: skip
        with pytest.raises(BadCredentials):
            auth.check("GET", "/", bad)


def test_basic_beside_digest_only_where_asked(auth: Authenticator) -> None:
    assert auth.check("GET", "/metrics", basic("alice", "s3cret:x")) == Verdict()
    assert auth.check("GET", "/metrics", basic("alice", "s3cret:x"), basic_too=True).ok
    assert not auth.check("GET", "/metrics", basic("alice", "no"), basic_too=True).ok


@pytest.mark.parametrize(
    "header",
    [
        'Digest username="alice"',  # most fields missing
        "Digest bogus",
        'Digest username="alice", realm="camera-streaming", nonce="n", uri="/", response="r", '
        'qop=auth, cnonce="c", nc=1',  # nc is not 8 hex digits
        'Digest username="a", username="b"',
        'Digest username="unterminated',
    ],
)
def test_malformed_digest_raises(auth: Authenticator, header: str) -> None:
    with pytest.raises(BadCredentials):
        auth.check("GET", "/", header)


def test_parse_params() -> None:
    assert parse_params('a=b, C="d, e", f="g\\"h" ,i=j') == {"a": "b", "c": "d, e", "f": 'g"h',
                                                            "i": "j"}  # fmt: skip
    assert parse_params("") == {}
    assert parse_params('realm="", x=1') == {"realm": "", "x": "1"}


def test_construction_needs_a_method_and_users() -> None:
    with pytest.raises(ValueError):
        Authenticator("none", USERS)
    with pytest.raises(ValueError):
        Authenticator("digest", {})


def test_many_nonces_are_distinct() -> None:
    auth = Authenticator("digest", USERS, max_nonces=1000)
    nonces = {nonce_of(auth.challenge()) for _ in itertools.repeat(None, 500)}
    assert len(nonces) == 500
