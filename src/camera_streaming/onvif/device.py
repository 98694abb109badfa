"""The device service (tds): what the device is, where its services are, its clock and its
network settings. Each operation takes the request context and the operation's element and
returns the response element, in the schema's element order."""

from __future__ import annotations

import time
from collections.abc import Callable
from xml.etree.ElementTree import Element

from . import media, system
from .markup import TDS, TRT, Markup, el
from .model import DEVICE_PATH, MEDIA_PATH, Context, scopes
from .soap import child_text, receiver_fault

# The ONVIF version the services implement: the 2.4 schema generation (Media ver10).
VERSION = (2, 40)
# IANA ifType: ethernetCsmacd, ieee80211.
_IF_ETHERNET, _IF_WIFI = 6, 71


def _version(tag: str) -> Markup:
    return el(tag, el("tt:Major", VERSION[0]), el("tt:Minor", VERSION[1]))


def get_capabilities(ctx: Context, request: Element) -> Markup:
    categories = {
        (item.text or "").strip() for item in request if item.tag.endswith("Category")
    } or {"All"}
    known = {"All", "Device", "Media"}
    if not categories & known:
        raise receiver_fault(
            "ter:ActionNotSupported",
            "ter:NoSuchService",
            reason="The requested WSDL service category is not supported by the device",
        )
    every = "All" in categories
    device = None
    if every or "Device" in categories:
        network = el(
            "tt:Network",
            el("tt:IPFilter", False),
            el("tt:ZeroConfiguration", False),
            el("tt:IPVersion6", False),
            el("tt:DynDNS", False),
        )
        system_caps = el(
            "tt:System",
            el("tt:DiscoveryResolve", True),
            el("tt:DiscoveryBye", True),
            el("tt:RemoteDiscovery", False),
            el("tt:SystemBackup", False),
            el("tt:SystemLogging", False),
            el("tt:FirmwareUpgrade", False),
            _version("tt:SupportedVersions"),
        )
        security = el(
            "tt:Security",
            *(
                el(f"tt:{name}", False)
                for name in (
                    "TLS1.1",
                    "TLS1.2",
                    "OnboardKeyGeneration",
                    "AccessPolicyConfig",
                    "X.509Token",
                    "SAMLToken",
                    "KerberosToken",
                    "RELToken",
                )
            ),
        )
        device = el(
            "tt:Device", el("tt:XAddr", ctx.http_url(DEVICE_PATH)), network, system_caps, security
        )
    media_caps = None
    if every or "Media" in categories:
        media_caps = el(
            "tt:Media",
            el("tt:XAddr", ctx.http_url(MEDIA_PATH)),
            el(
                "tt:StreamingCapabilities",
                el("tt:RTPMulticast", False),
                el("tt:RTP_TCP", True),
                el("tt:RTP_RTSP_TCP", True),
            ),
        )
    return el("tds:GetCapabilitiesResponse", el("tds:Capabilities", device, media_caps))


def device_capabilities(tag: str = "tds:Capabilities") -> Markup:
    return el(
        tag,
        el(
            "tds:Network",
            attrs={
                "IPFilter": False,
                "ZeroConfiguration": False,
                "IPVersion6": False,
                "DynDNS": False,
                "Dot11Configuration": False,
                "HostnameFromDHCP": False,
                "NTP": 0,
            },
        ),
        el(
            "tds:Security",
            attrs={
                "TLS1.0": False,
                "TLS1.1": False,
                "TLS1.2": False,
                "OnboardKeyGeneration": False,
                "AccessPolicyConfig": False,
                "DefaultAccessPolicy": False,
                "Dot1X": False,
                "RemoteUserHandling": False,
                "X.509Token": False,
                "SAMLToken": False,
                "KerberosToken": False,
                "UsernameToken": True,
                "HttpDigest": True,
                "RELToken": False,
            },
        ),
        el(
            "tds:System",
            attrs={
                "DiscoveryResolve": True,
                "DiscoveryBye": True,
                "RemoteDiscovery": False,
                "SystemBackup": False,
                "SystemLogging": False,
                "FirmwareUpgrade": False,
            },
        ),
    )


def get_service_capabilities(ctx: Context, request: Element) -> Markup:
    return el("tds:GetServiceCapabilitiesResponse", device_capabilities())


def get_services(ctx: Context, request: Element) -> Markup:
    with_caps = child_text(request, "IncludeCapability") in ("true", "1")
    entries = (
        (TDS, DEVICE_PATH, device_capabilities()),
        (TRT, MEDIA_PATH, media.capabilities(ctx)),
    )
    return el(
        "tds:GetServicesResponse",
        (
            el(
                "tds:Service",
                el("tds:Namespace", ns),
                el("tds:XAddr", ctx.http_url(path)),
                el("tds:Capabilities", caps) if with_caps else None,
                _version("tds:Version"),
            )
            for ns, path, caps in entries
        ),
    )


def get_device_information(ctx: Context, request: Element) -> Markup:
    f = ctx.facts
    return el(
        "tds:GetDeviceInformationResponse",
        el("tds:Manufacturer", f.manufacturer),
        el("tds:Model", f.model),
        el("tds:FirmwareVersion", f.firmware),
        el("tds:SerialNumber", f.serial),
        el("tds:HardwareId", f.hardware_id),
    )


def get_system_date_and_time(ctx: Context, request: Element) -> Markup:
    """The clock in UTC; the local time is given in UTC too (time zone UTC0)."""
    t = time.gmtime(ctx.now)
    stamp = (
        el(
            "tt:Time",
            el("tt:Hour", t.tm_hour),
            el("tt:Minute", t.tm_min),
            el("tt:Second", t.tm_sec),
        ),
        el("tt:Date", el("tt:Year", t.tm_year), el("tt:Month", t.tm_mon), el("tt:Day", t.tm_mday)),
    )
    return el(
        "tds:GetSystemDateAndTimeResponse",
        el(
            "tds:SystemDateAndTime",
            el("tt:DateTimeType", "NTP" if system.ntp_servers() else "Manual"),
            el("tt:DaylightSavings", False),
            el("tt:TimeZone", el("tt:TZ", "UTC0")),
            el("tt:UTCDateTime", stamp),
            el("tt:LocalDateTime", stamp),
        ),
    )


def get_network_interfaces(ctx: Context, request: Element) -> Markup:
    items = []
    for i in system.network_interfaces():
        setting = (
            el(
                "tt:AutoNegotiation",
                True,
            ),
            el("tt:Speed", i.speed_mbps),
            el("tt:Duplex", "Full" if i.full_duplex else "Half"),
        )
        items.append(
            el(
                "tds:NetworkInterfaces",
                el("tt:Enabled", i.up),
                el(
                    "tt:Info",
                    el("tt:Name", i.name),
                    el("tt:HwAddress", i.mac),
                    el("tt:MTU", i.mtu) if i.mtu else None,
                ),
                el(
                    "tt:Link",
                    el("tt:AdminSettings", setting),
                    el("tt:OperSettings", setting),
                    el("tt:InterfaceType", _IF_WIFI if i.wireless else _IF_ETHERNET),
                ),
                el(
                    "tt:IPv4",
                    el("tt:Enabled", bool(i.ipv4)),
                    el(
                        "tt:Config",
                        (
                            el("tt:Manual", el("tt:Address", a), el("tt:PrefixLength", n))
                            for a, n in i.ipv4
                        ),
                        el("tt:DHCP", False),
                    ),
                ),
                attrs={"token": i.name},
            )
        )
    return el("tds:GetNetworkInterfacesResponse", items)


def get_scopes(ctx: Context, request: Element) -> Markup:
    return el(
        "tds:GetScopesResponse",
        (
            el("tds:Scopes", el("tt:ScopeDef", "Fixed"), el("tt:ScopeItem", s))
            for s in scopes(ctx.facts)
        ),
    )


def get_hostname(ctx: Context, request: Element) -> Markup:
    return el(
        "tds:GetHostnameResponse",
        el(
            "tds:HostnameInformation",
            el("tt:FromDHCP", False),
            el("tt:Name", ctx.facts.hostname) if ctx.facts.hostname else None,
        ),
    )


def _address(tag: str, ip: str) -> Markup:
    v = system.ip_version(ip)
    return el(tag, el("tt:Type", f"IPv{v}"), el(f"tt:IPv{v}Address", ip))


def get_dns(ctx: Context, request: Element) -> Markup:
    d = system.dns()
    return el(
        "tds:GetDNSResponse",
        el(
            "tds:DNSInformation",
            el("tt:FromDHCP", False),
            (el("tt:SearchDomain", s) for s in d.search),
            (_address("tt:DNSManual", s) for s in d.servers),
        ),
    )


def get_ntp(ctx: Context, request: Element) -> Markup:
    hosts = []
    for server in system.ntp_servers():
        try:
            hosts.append(_address("tt:NTPManual", server))
        except ValueError:
            hosts.append(el("tt:NTPManual", el("tt:Type", "DNS"), el("tt:DNSname", server)))
    return el("tds:GetNTPResponse", el("tds:NTPInformation", el("tt:FromDHCP", False), hosts))


def get_discovery_mode(ctx: Context, request: Element) -> Markup:
    mode = "Discoverable" if ctx.facts.discoverable else "NonDiscoverable"
    return el("tds:GetDiscoveryModeResponse", el("tds:DiscoveryMode", mode))


def get_wsdl_url(ctx: Context, request: Element) -> Markup:
    return el("tds:GetWsdlUrlResponse", el("tds:WsdlUrl", "http://www.onvif.org/"))


Handler = Callable[[Context, Element], Markup]

OPERATIONS: dict[str, Handler] = {
    "GetCapabilities": get_capabilities,
    "GetServices": get_services,
    "GetServiceCapabilities": get_service_capabilities,
    "GetDeviceInformation": get_device_information,
    "GetSystemDateAndTime": get_system_date_and_time,
    "GetNetworkInterfaces": get_network_interfaces,
    "GetScopes": get_scopes,
    "GetHostname": get_hostname,
    "GetDNS": get_dns,
    "GetNTP": get_ntp,
    "GetDiscoveryMode": get_discovery_mode,
    "GetWsdlUrl": get_wsdl_url,
}
# Answered without credentials: only the clock, which clients read first to align the
# Created time of their WS-UsernameToken (ONVIF Core allows more operations here; a camera
# whose users are configured reveals nothing else to an anonymous caller).
PRE_AUTH = frozenset({"GetSystemDateAndTime"})
