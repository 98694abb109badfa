"""The frame path between a source and the encoders: the user hook (once per captured frame,
at full size), the built-in overlay, and each stream's resize, rate share and I420 conversion
into reused buffers."""
