"""Cameras and their streams at run time: a `Camera` captures once and feeds each of its
`Stream`s, and each stream encodes once for all its consumers (its RTSP mount, its outputs)."""
