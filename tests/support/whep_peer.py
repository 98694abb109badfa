"""An independent WHEP client, aiortc, run as its own process so that its sockets, threads and
memory are not the server's: `python tests/support/whep_peer.py '<json>'`.

The JSON says what to do: `url` (the WHEP endpoint), `cycles` (sessions one after the
other), `parallel` (sessions at a time), `seconds` (how long each receives after its first
frame), `end` (`delete`, `vanish`: stop sending anything without a DELETE, or `mix`: every
other one), `only` (the one host address aiortc offers, e.g. 127.0.0.1), `decode` (false:
count reassembled frames, decode none: many viewers on two cores), `headers` (extra request
headers), `audio` (offer an audio track too, as generic WHEP players do) and `codes` (read
the test pattern's capture-time code from each decoded frame), `keep_answer` (report the SDP
answer), `digest` ([user, password] for HTTP Digest).
One JSON line per session goes to stdout: status, Location, seconds to the answer and to the
first frame, frames received, the DELETE's status; then `{"done": true}`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import aioice.ice  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402


class _CountOnly:
    """A decoder that decodes nothing: each reassembled frame comes out as a marker."""

    def decode(self, encoded_frame: Any) -> list:
        return [encoded_frame]


def http(
    method: str, url: str, body: bytes | None, headers: dict[str, str], digest: list | None = None
) -> tuple[int, dict, bytes]:
    handlers = []
    if digest:
        users = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        users.add_password(None, url, digest[0], digest[1])
        handlers.append(urllib.request.HTTPDigestAuthHandler(users))
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.build_opener(*handlers).open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def vanish(pc: RTCPeerConnection) -> None:
    """Close the peer's UDP sockets under it: no RTCP, no DTLS alert, no DELETE, as when a
    browser tab is killed or the network goes."""
    for transceiver in pc.getTransceivers():
        ice = transceiver.receiver.transport.transport
        connection = getattr(ice, "_connection", None)
        for protocol in getattr(connection, "_protocols", []):
            if protocol.transport is not None:
                protocol.transport.close()


async def session(spec: dict[str, Any], index: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    headers = dict(spec.get("headers", {}))
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    if spec.get("audio"):  # as generic WHEP players offer
        pc.addTransceiver("audio", direction="recvonly")
    frames: list[float] = []
    codes: list[tuple[float, int, int]] = []
    first = asyncio.Event()
    readers = []

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def read() -> None:
            while True:
                try:
                    frame = await track.recv()
                except Exception:
                    return
                now = time.monotonic()
                frames.append(now)
                first.set()
                if spec.get("codes"):
                    from camera_streaming.sources.pattern import read_code

                    code = read_code(frame.to_ndarray(format="gray"))
                    if code is not None:
                        codes.append((time.time(), code[0], code[1]))

        readers.append(asyncio.ensure_future(read()))

    result: dict[str, Any] = {"index": index}
    await pc.setLocalDescription(await pc.createOffer())
    t0 = time.monotonic()
    status, rheaders, body = await loop.run_in_executor(
        None, http, "POST", spec["url"], pc.localDescription.sdp.encode(),
        {"Content-Type": "application/sdp", **headers}, spec.get("digest"),
    )  # fmt: skip
    result.update(status=status, answer_s=time.monotonic() - t0)
    if status != 201:
        result["reason"] = body.decode(errors="replace").strip()
        await pc.close()
        return result
    location = rheaders.get("Location", "")
    result["location"] = location
    if spec.get("keep_answer"):
        result["answer"] = body.decode()
    await pc.setRemoteDescription(RTCSessionDescription(body.decode(), "answer"))
    try:
        await asyncio.wait_for(first.wait(), spec.get("first_timeout", 5.0))
        result["first_frame_s"] = frames[0] - t0
        await asyncio.sleep(spec.get("seconds", 0.0))
    except asyncio.TimeoutError:
        result["first_frame_s"] = None
    window = [t for t in frames if frames and t - frames[0] <= spec.get("seconds", 0.0)]
    result["frames"] = len(frames)
    result["frames_in_window"] = len(window)
    if codes:
        result["codes"] = codes
    end = spec.get("end", "delete")
    if end == "mix":
        end = "delete" if index % 2 == 0 else "vanish"
    result["end"] = end
    if end == "vanish":
        vanish(pc)
    else:
        base = spec["url"].split("/", 3)
        target = f"{base[0]}//{base[2]}{location}"
        result["delete_status"] = (
            await loop.run_in_executor(
                None, http, "DELETE", target, None, headers, spec.get("digest")
            )
        )[0]
    for reader in readers:
        reader.cancel()
    await pc.close()
    return result


async def main(spec: dict[str, Any]) -> None:
    cycles, parallel = spec.get("cycles", 1), spec.get("parallel", 1)
    queue = list(range(cycles))

    async def worker() -> None:
        while queue:
            out = await session(spec, queue.pop(0))
            print(json.dumps(out), flush=True)

    await asyncio.gather(*(worker() for _ in range(parallel)))
    print(json.dumps({"done": True}), flush=True)


if __name__ == "__main__":
    options = json.loads(sys.argv[1])
    if options.get("only"):
        only = options["only"]
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [only]
    if not options.get("decode", True):
        import aiortc.rtcrtpreceiver as receiver

        receiver.get_decoder = lambda codec: _CountOnly()  # type: ignore[assignment]
    asyncio.run(main(options))
