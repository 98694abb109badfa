"""Fragmented MP4 for one H.264 stream, written by hand (pure: no GStreamer).

GStreamer's `mp4mux fragment-duration=1` holds every frame about two frame times (67-72 ms at
30 fps, docs/gstreamer.md fact 27: 180 ms glass-to-glass against 96-125 ms with this writer)
and `isofmp4mux` is not packaged for Debian 12; so the boxes are written here (fact 28):

  init segment  ftyp + moov (mvhd, trak with an avc1 sample entry and its avcC, mvex/trex)
  fragment      moof (mfhd, traf: tfhd, tfdt, trun for one sample) + mdat, per access unit

Access units arrive as Annex B byte stream (start codes); MP4 wants each NAL unit prefixed with
its 4-byte length. The avcC record is built from the stream's first SPS and PPS.
"""

from __future__ import annotations

import struct

TIMESCALE = 90_000
NAL_SPS, NAL_PPS, NAL_AUD = 7, 8, 9


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def nal_units(access_unit: bytes) -> list[bytes]:
    """The NAL units of an Annex B access unit (start codes 00 00 01 or 00 00 00 01)."""
    units = []
    n = len(access_unit)
    i = access_unit.find(b"\x00\x00\x01")
    while 0 <= i < n:
        start = i + 3
        j = access_unit.find(b"\x00\x00\x01", start)
        end = n if j < 0 else j
        if j >= 0 and access_unit[j - 1] == 0:  # a 4-byte start code: its zero is not data
            end = j - 1
        unit = access_unit[start:end]
        if unit:
            units.append(unit)
        i = j
    return units


def avcc_sample(units: list[bytes]) -> bytes:
    """NAL units as an MP4 sample: each prefixed with its 4-byte length (AUDs left out)."""
    return b"".join(struct.pack(">I", len(u)) + u for u in units if u[0] & 0x1F != NAL_AUD)


def parameter_sets(units: list[bytes]) -> tuple[bytes, bytes] | None:
    """(SPS, PPS) when both are among `units`."""
    sps = next((u for u in units if u[0] & 0x1F == NAL_SPS), None)
    pps = next((u for u in units if u[0] & 0x1F == NAL_PPS), None)
    return (sps, pps) if sps and pps else None


def codec_string(sps: bytes) -> str:
    """The MSE codecs parameter: `avc1.PPCCLL` from the SPS's profile, constraints, level."""
    return "avc1." + sps[1:4].hex()


def avcc(sps: bytes, pps: bytes) -> bytes:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15), 4-byte NAL lengths, 4:2:0 8-bit."""
    record = bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1])
    record += struct.pack(">H", len(sps)) + sps + b"\x01" + struct.pack(">H", len(pps)) + pps
    if sps[1] in (100, 110, 122, 144):  # High profiles carry chroma format and bit depths
        record += bytes([0xFC | 1, 0xF8, 0xF8, 0])
    return record


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def init_segment(sps: bytes, pps: bytes, width: int, height: int) -> bytes:
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso6iso5avc1mp41")
    mvhd = full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, 0),
                    struct.pack(">IH", 0x10000, 0x100), bytes(10), _MATRIX, bytes(24),
                    struct.pack(">I", 2))  # fmt: skip
    tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, 0), bytes(8),
                    struct.pack(">hhhh", 0, 0, 0, 0), _MATRIX,
                    struct.pack(">II", width << 16, height << 16))  # fmt: skip
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, TIMESCALE, 0),
                    struct.pack(">HH", 0x55C4, 0))  # fmt: skip
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    avc1 = box(b"avc1", bytes(6), struct.pack(">H", 1), bytes(16),
               struct.pack(">HHIIIH", width, height, 0x480000, 0x480000, 0, 1), bytes(32),
               struct.pack(">Hh", 0x18, -1), box(b"avcC", avcc(sps, pps)))  # fmt: skip
    stbl = box(b"stbl", full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
               full_box(b"stts", 0, 0, bytes(4)), full_box(b"stsc", 0, 0, bytes(4)),
               full_box(b"stsz", 0, 0, bytes(8)), full_box(b"stco", 0, 0, bytes(4)))  # fmt: skip
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
    trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
    mvex = box(b"mvex", full_box(b"trex", 0, 0, struct.pack(">IIIII", 1, 1, 0, 0, 0)))
    return ftyp + box(b"moov", mvhd, trak, mvex)


SYNC_FLAGS = 0x02000000  # sample_depends_on = 2 (an IDR)
DELTA_FLAGS = 0x01010000  # sample_depends_on = 1, sample_is_non_sync_sample


def fragment(sequence: int, decode_time: int, duration: int, sample: bytes, key: bool) -> bytes:
    """moof + mdat for one sample at `decode_time` (90 kHz ticks)."""
    tfhd = full_box(b"tfhd", 0, 0x020000, struct.pack(">I", 1))  # default-base-is-moof
    tfdt = full_box(b"tfdt", 1, 0, struct.pack(">Q", decode_time))
    trun_size = 8 + 4 + 4 + 4 + 12  # header, flags, count, data offset, one sample
    moof_size = 8 + 16 + 8 + len(tfhd) + len(tfdt) + trun_size
    trun = full_box(b"trun", 0, 0x000701, struct.pack(">Ii", 1, moof_size + 8),
                    struct.pack(">III", duration, len(sample),
                                SYNC_FLAGS if key else DELTA_FLAGS))  # fmt: skip
    moof = box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", sequence)),
               box(b"traf", tfhd, tfdt, trun))  # fmt: skip
    assert len(moof) == moof_size
    return moof + box(b"mdat", sample)
