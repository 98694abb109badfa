"""The two ends of the WS-Discovery network-namespace test, each run in its own namespace:

    python -m support.wsd_peer device ADDRESS   DiscoveryResponder on 3702 and the ONVIF
                                                services on ADDRESS:8080; stdin "stop" stops
    python -m support.wsd_peer client           the WSDiscovery package's client; stdin
                                                "probe" searches, "end" stops

Each prints one JSON object a line on stdout for the test to read."""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
from dataclasses import replace

HTTP_PORT = 8080


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def device(address: str) -> None:
    from camera_streaming.onvif import DiscoveryResponder, OnvifService
    from support.onvif import FACTS
    from support.onvif_http import onvif_http_server

    facts = replace(FACTS, hostname="netns-board", http_port=HTTP_PORT)
    with onvif_http_server(OnvifService(lambda: facts, None), (address, HTTP_PORT)):
        responder = DiscoveryResponder(lambda: facts)
        responder.start()
        emit(event="ready", endpoint=responder.endpoint, port=responder.port)
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        responder.stop()
        emit(event="stopped")


def client() -> None:
    from wsdiscovery import QName
    from wsdiscovery.discovery import ThreadedWSDiscovery

    from support.onvif import soap_request

    dn = QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter")
    wsd = ThreadedWSDiscovery()
    seen = threading.Lock()

    def on_hello(service: object) -> None:
        with seen:
            emit(event="hello", epr=service.getEPR(), xaddrs=service.getXAddrs())  # type: ignore[attr-defined]

    def on_bye(epr: str) -> None:
        with seen:
            emit(event="bye", epr=epr)

    wsd.setRemoteServiceHelloCallback(on_hello)
    wsd.setRemoteServiceByeCallback(on_bye)
    wsd.start()
    emit(event="listening")
    for line in sys.stdin:
        command = line.strip()
        if command == "probe":
            found = []
            for service in wsd.searchServices(types=[dn], timeout=3):
                xaddrs = service.getXAddrs()
                # The XAddrs work: the device service answers there.
                request = urllib.request.Request(
                    xaddrs[0],
                    data=soap_request("GetDeviceInformation"),
                    headers={"Content-Type": "application/soap+xml"},
                )
                with urllib.request.urlopen(request, timeout=5) as reply:
                    status = reply.status
                found.append(
                    {
                        "epr": service.getEPR(),
                        "xaddrs": xaddrs,
                        "scopes": [s.getValue() for s in service.getScopes()],
                        "types": [
                            f"{t.getNamespace()} {t.getLocalname()}" for t in service.getTypes()
                        ],
                        "device_service_status": status,
                    }
                )
            with seen:
                emit(event="found", services=found)
        elif command == "end":
            break
    wsd.stop()


if __name__ == "__main__":
    if sys.argv[1] == "device":
        device(sys.argv[2])
    else:
        client()
