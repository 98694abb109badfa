"""Live video to browsers over Media Source Extensions: the stream's own H.264 access units
packed as fragmented MP4 (one fragment per access unit) and sent over a WebSocket."""
