"""WS-UsernameToken authentication of the ONVIF services, on an injected clock: digest right,
wrong, missing, replayed and expired; PRE_AUTH operations; HTTP Digest users; no users."""

from __future__ import annotations

import base64

import pytest

from camera_streaming.onvif import OnvifService
from camera_streaming.onvif.wsse import (
    PASSWORD_DIGEST,
    AuthError,
    UsernameToken,
    UsernameTokenCheck,
    parse_created,
    password_digest,
)
from support.fakes import FakeClock
from support.onvif import FACTS, TRT, created_text, fault_of, soap_request, username_token

T0 = 1_700_000_000.0
USERS = {"admin": "s3cret:pass", "viewer": "view"}
DEVICE = "/onvif/device_service"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def service(clock: FakeClock) -> OnvifService:
    return OnvifService(lambda: FACTS, USERS, clock=clock)


def call(service, op="GetDeviceInformation", header="", ns=None, **kw):
    body = soap_request(op, ns, header=header) if ns else soap_request(op, header=header)
    return service.handle(DEVICE, body, {}, "127.0.0.1:8080", **kw)


def refused(reply: tuple[int, bytes, str], status: int = 400) -> None:
    assert reply[0] == status
    code, subcodes, _ = fault_of(reply[1])
    assert (code, subcodes) == ("env:Sender", ["ter:NotAuthorized"])


def test_the_digest_of_the_ws_security_profile():
    # base64(sha1(nonce + created + password)), as in the UsernameToken Profile 1.0's example.
    nonce = base64.b64decode("LKqI6G/AikKCQrN0zqZFlg==")
    created = "2010-09-16T07:50:45Z"
    assert password_digest(nonce, created, "userpassword") == "tuOSpGlFlIXsozq4HFNeeGeFLEI="


def test_a_good_digest_is_accepted(service, clock):
    header = username_token("admin", "s3cret:pass", created_text(clock.t))
    assert call(service, header=header)[0] == 200


def test_a_wrong_password_or_user_is_not_authorized(service, clock):
    refused(call(service, header=username_token("admin", "nope", created_text(clock.t))))
    refused(call(service, header=username_token("nobody", "view", created_text(clock.t))))


def test_missing_credentials_ask_for_http_digest(service, clock):
    refused(call(service), status=401)
    no_digest = OnvifService(lambda: FACTS, USERS, clock=clock, http_digest=False)
    refused(call(no_digest), status=400)


def test_password_text_is_refused(service, clock):
    header = username_token("admin", "s3cret:pass", created_text(clock.t), digest=False)
    refused(call(service, header=header))


def test_a_replayed_nonce_is_refused(service, clock):
    header = username_token("viewer", "view", created_text(clock.t), nonce=b"0123456789abcdef")
    assert call(service, header=header)[0] == 200
    refused(call(service, header=header))
    clock.advance(60)
    refused(call(service, header=header))  # still remembered, and a minute old


def test_created_must_be_within_five_minutes(service, clock):
    def at(offset: float) -> str:
        return username_token("admin", "s3cret:pass", created_text(clock.t + offset))

    for offset in (-301, 301):
        refused(call(service, header=at(offset)))
    for offset in (-299, 299):
        assert call(service, header=at(offset))[0] == 200


def test_a_token_expires_with_the_clock(service, clock):
    header = username_token("admin", "s3cret:pass", created_text(clock.t))
    clock.advance(301)
    refused(call(service, header=header))


def test_nonces_are_forgotten_after_ten_minutes_and_bounded():
    clock = FakeClock(T0)
    check = UsernameTokenCheck({"u": "p"}, clock, max_nonces=8)

    def token(nonce: bytes) -> UsernameToken:
        created = created_text(clock.t)
        digest = password_digest(nonce, created, "p")
        return UsernameToken("u", digest, PASSWORD_DIGEST, nonce, created)

    for i in range(20):
        assert check.check(token(b"n%d" % i)) == "u"
    assert check.remembered() == 8
    clock.advance(601)
    assert check.check(token(b"fresh")) == "u"
    assert check.remembered() == 1


def test_malformed_tokens_are_not_authorized(service, clock):
    created = created_text(clock.t)
    good = username_token("admin", "s3cret:pass", created)
    for header in (
        good.replace("<wsse:Nonce>", "<wsse:Nonce>!!"),  # not base64
        good.replace(created, "yesterday"),  # not a date (and the digest no longer matches)
        good.replace("<wsse:Username>admin</wsse:Username>", ""),
        '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"/>',
    ):
        refused(call(service, header=header))
    with pytest.raises(AuthError):
        parse_created("2024-13-45T99:00:00Z")
    assert parse_created("2023-11-14T22:13:20.123+01:00") == T0 - 3600


def test_only_the_clock_is_answered_without_credentials(service):
    assert call(service, "GetSystemDateAndTime")[0] == 200
    device_ops = (
        "GetCapabilities",
        "GetServices",
        "GetHostname",
        "GetServiceCapabilities",
        "GetDeviceInformation",
        "GetNetworkInterfaces",
        "GetScopes",
        "SystemReboot",
    )
    for op in device_ops:
        refused(call(service, op), status=401)
    refused(call(service, "GetServiceCapabilities", ns=TRT), status=401)
    for op in ("GetProfiles", "GetStreamUri", "GetSnapshotUri"):
        refused(call(service, op, ns=TRT), status=401)


def test_an_http_digest_user_needs_no_ws_token(service, clock):
    assert call(service, http_user="viewer")[0] == 200
    refused(call(service, http_user="mallory"))
    # Both given: both are checked (ONVIF Core: HTTP first, then WS-Security).
    bad = username_token("admin", "bad", created_text(clock.t))
    refused(call(service, header=bad, http_user="viewer"))


def test_without_users_any_ws_security_header_is_accepted(clock):
    service = OnvifService(lambda: FACTS, None, clock=clock)
    empty = username_token("", "", created_text(clock.t))
    for header in ("", empty, username_token("x", "y", "junk")):
        assert call(service, header=header)[0] == 200
    assert call(OnvifService(lambda: FACTS, {}, clock=clock), "GetProfiles", ns=TRT)[0] == 200
