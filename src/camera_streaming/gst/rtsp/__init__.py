"""The RTSP server: one port, a mount per stream, client policing and authentication."""
