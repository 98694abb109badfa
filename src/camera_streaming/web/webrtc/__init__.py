"""WebRTC viewers through WHEP: one small webrtcbin pipeline per viewer, fed the stream's own
H.264 access units (no encode per viewer). docs/webrtc.md."""
