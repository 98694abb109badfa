"""GStreamer outputs of one encode: RTMP push, recording, RTSP publish, one base."""
