"""ONVIF Profile S: the device and media services (`OnvifService.handle`, no HTTP library of
its own) and the WS-Discovery responder (`DiscoveryResponder`)."""

from .discovery import DiscoveryResponder
from .model import DeviceFacts, Profile
from .service import OnvifService

__all__ = ["DeviceFacts", "DiscoveryResponder", "OnvifService", "Profile"]
