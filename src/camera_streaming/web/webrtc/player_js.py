"""The browser side of WHEP: `playWebRTC(video, path, options)`, as JavaScript a page includes
in a <script> (PLAY_WEBRTC_JS). Plain ES2017, no library.

    playWebRTC(document.querySelector("video"), "/stream")
      .then((player) => { ... player.close() ... })   // frames are flowing
      .catch((err) => { ... fall back to MSE ... })   // no picture: err.message says why

It offers to receive one H.264 video track (recvonly; no trickle: the server's answer carries
every candidate), POSTs the offer to `<base><path>/whep`, and resolves with
`{pc, location, close}` once the first frame is decoded (requestVideoFrameCallback, or the
`playing` event with a picture size where that is missing). It rejects when the POST fails
(`err.status`: 400, 401, 404, 503 ...), when the connection fails, or when no frame comes
within `options.timeout` ms (default 5000); it then closes what it opened, DELETE included.
`player.close()` sends the DELETE and closes the peer connection; leaving the page sends the
DELETE too (fetch keepalive). `options.base` is the server's origin when the page is served
from another one (CORS), `options.headers` extra request headers (Authorization).
"""

PLAY_WEBRTC_JS = r"""
function playWebRTC(video, path, options) {
  const opts = Object.assign({base: "", timeout: 5000, headers: {}, iceServers: []}, options);
  const url = opts.base + path.replace(/\/+$/, "") + "/whep";
  const pc = new RTCPeerConnection({iceServers: opts.iceServers});
  let location = null;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    window.removeEventListener("pagehide", close);
    if (location) {
      fetch(location, {method: "DELETE", headers: opts.headers, keepalive: true})
        .catch(() => {});
    }
    pc.close();
  };
  window.addEventListener("pagehide", close);
  const gathered = () => new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 1000);  // host candidates come at once; do not wait for slow ones
  });
  const firstFrame = () => new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("no video frame within " + opts.timeout + " ms")), opts.timeout);
    const ok = () => { clearTimeout(timer); resolve(); };
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") {
        clearTimeout(timer);
        reject(new Error("WebRTC connection " + pc.connectionState));
      }
    });
    if (video.requestVideoFrameCallback) {
      video.requestVideoFrameCallback(ok);
    } else {
      const check = () => { if (video.videoWidth > 0) ok(); };
      video.addEventListener("playing", check, {once: true});
      video.addEventListener("resize", check, {once: true});
    }
  });
  const run = async () => {
    pc.addTransceiver("video", {direction: "recvonly"});
    pc.ontrack = (event) => {
      video.srcObject = event.streams && event.streams[0]
        ? event.streams[0] : new MediaStream([event.track]);
    };
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    const frame = firstFrame();
    frame.catch(() => {});
    await pc.setLocalDescription(await pc.createOffer());
    await gathered();
    const answer = await fetch(url, {
      method: "POST",
      headers: Object.assign({"Content-Type": "application/sdp"}, opts.headers),
      body: pc.localDescription.sdp,
    });
    const text = await answer.text();
    if (answer.status !== 201) {
      const err = new Error("WHEP " + answer.status + ": " + text.trim());
      err.status = answer.status;
      throw err;
    }
    const where = answer.headers.get("Location");
    if (where) location = new URL(where, new URL(url, window.location.href)).href;
    await pc.setRemoteDescription({type: "answer", sdp: text});
    const playing = video.play();
    if (playing) playing.catch(() => {});
    await frame;
    return {pc: pc, location: location, close: close};
  };
  return run().catch((err) => { close(); throw err; });
}
"""
