"""WS-Discovery over a real multicast segment: two network namespaces joined by a veth pair,
the device (DiscoveryResponder on UDP 3702 and the ONVIF services) in one, the `WSDiscovery`
package's client in the other. The client hears Hello, finds the device with a multicast
Probe (XAddrs with the address of the interface the Probe arrived on, and they answer),
and hears Bye when the device stops."""

from __future__ import annotations

import pytest

from support.netns import Peer, veth_pair

pytestmark = pytest.mark.integration


def test_discovery_across_a_veth_pair():
    with veth_pair() as (device_ns, client_ns):
        client = Peer(client_ns, "support.wsd_peer", "client")
        device = None
        try:
            client.expect("listening")
            device = Peer(device_ns, "support.wsd_peer", "device", device_ns.address)
            ready = device.expect("ready")
            assert ready["port"] == 3702
            endpoint = ready["endpoint"]
            assert endpoint.startswith("urn:uuid:")
            xaddrs = f"http://{device_ns.address}:8080/onvif/device_service"
            hello = client.expect("hello")
            assert (hello["epr"], hello["xaddrs"]) == (endpoint, [xaddrs])

            client.send("probe")
            found = client.expect("found")["services"]
            assert [s["epr"] for s in found] == [endpoint]
            service = found[0]
            assert service["xaddrs"] == [xaddrs]
            assert service["device_service_status"] == 200
            assert "onvif://www.onvif.org/Profile/Streaming" in service["scopes"]
            assert "onvif://www.onvif.org/name/netns-board" in service["scopes"]
            assert sorted(service["types"]) == [
                "http://www.onvif.org/ver10/device/wsdl Device",
                "http://www.onvif.org/ver10/network/wsdl NetworkVideoTransmitter",
            ]

            device.send("stop")
            device.expect("stopped")
            assert client.expect("bye")["epr"] == endpoint
            client.send("end")
        finally:
            client.close()
            if device is not None:
                device.close()
