"""Fakes and helpers for the tests: fake sources and clocks, real peers, the RTSP corpus."""
