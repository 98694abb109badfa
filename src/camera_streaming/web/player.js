"use strict";
// The browser player of camera-streaming (docs/browser.md), shared by /view/<path> and the
// status page: startPlayer(video, "/stream", {mode, latency}) plays a stream live in a
// muted <video>.
//
// mode "mse": fragmented MP4 over the WebSocket <path>/ws into Media Source Extensions.
// mode "webrtc" / "auto": WebRTC through a function playWebRTC(video, path) when the page
// defines one (it returns a Promise of a session with close()); "auto" falls back to MSE when
// it is missing, fails, or shows no picture within 3 s.
//
// What the player did is in window.__players (one object per player; window.__player is the
// first): state, frames decoded, buffer figures, reconnects, and with {latency: true} the
// code of the test pattern read from each frame shown, for tests and benchmarks.

const FALLBACK_MS = 3000;
const BACKOFF_MIN_MS = 500, BACKOFF_MAX_MS = 8000;
const RATE_UP_S = 0.3, RATE_DOWN_S = 0.15, CATCH_UP_RATE = 1.1; // playback-rate catch-up
const LIVE_SEEK_S = 2.5; // further behind than this: seek to the live edge
const KEEP_S = 5, TICK_MS = 500, TRIM_EVERY_MS = 3000;
const SILENT_MS = 5000; // no message this long: reconnect
const LATENCY_KEEP = 40000;
const PERMANENT = [4404, 4415]; // no such stream, not playable: retrying will not help

function startPlayer(video, path, options) {
  options = options || {};
  const stats = {
    path: path, mode: options.mode || "auto", tech: "", state: "starting", error: "",
    connects: 0, reconnects: 0, retryInMs: 0, closeCode: null, closeReason: "",
    codec: "", messages: 0, bytes: 0, appends: 0, trims: 0, seeks: 0, liveSeeks: 0,
    gapSkips: 0, rateChanges: 0, stalls: 0, rate: 1, ahead: 0, buffered: 0, bufferedMax: 0,
    frames: 0, dropped: 0, latency: [],
  };
  (window.__players = window.__players || []).push(stats);
  window.__player = window.__player || stats;
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.addEventListener("waiting", function () { // the playhead ran out of data
    if (stats.state === "playing") stats.stalls++;
  });
  setInterval(function () {
    const q = video.getVideoPlaybackQuality && video.getVideoPlaybackQuality();
    if (q) { stats.frames = q.totalVideoFrames; stats.dropped = q.droppedVideoFrames; }
  }, TICK_MS);
  if (options.latency) watchLatency(video, stats);
  if (stats.mode === "mse") playMSE(video, path, stats);
  else playAuto(video, path, stats, stats.mode === "auto");
  return stats;
}

function withTimeout(promise, ms, what) {
  return new Promise(function (resolve, reject) {
    const timer = setTimeout(function () { reject(new Error(what)); }, ms);
    promise.then(function (v) { clearTimeout(timer); resolve(v); },
                 function (e) { clearTimeout(timer); reject(e); });
  });
}

function firstFrame(video) {
  return new Promise(function (resolve) {
    if (video.readyState >= 2 && !video.paused) { resolve(); return; }
    video.addEventListener("playing", function () { resolve(); }, { once: true });
  });
}

async function playAuto(video, path, stats, fallback) {
  if (typeof playWebRTC !== "function") {
    if (!fallback) { stats.state = "closed"; stats.error = "WebRTC is not available"; return; }
    playMSE(video, path, stats);
    return;
  }
  stats.tech = "webrtc";
  stats.state = "connecting";
  const started = performance.now();
  let session = null;
  try {
    session = await withTimeout(playWebRTC(video, path), FALLBACK_MS, "no WebRTC session");
    const left = Math.max(1, FALLBACK_MS - (performance.now() - started));
    await withTimeout(firstFrame(video), left, "no WebRTC picture");
    stats.state = "playing";
    return;
  } catch (e) {
    stats.error = "webrtc: " + (e && e.message ? e.message : e);
    if (session && session.close) session.close();
    video.srcObject = null;
  }
  if (fallback) playMSE(video, path, stats);
  else stats.state = "closed";
}

// -- MSE ----------------------------------------------------------------------------------
function playMSE(video, path, stats) {
  stats.tech = "mse";
  const MS = window.ManagedMediaSource || window.MediaSource;
  if (!MS) { stats.state = "closed"; stats.error = "no Media Source Extensions"; return; }
  let backoff = BACKOFF_MIN_MS;
  function connect() {
    stats.connects++;
    stats.state = "connecting";
    mseSession(video, path, stats, MS, function (permanent, played) {
      if (permanent) { stats.state = "closed"; return; }
      if (played) backoff = BACKOFF_MIN_MS;
      stats.state = "reconnecting";
      stats.reconnects++;
      stats.retryInMs = backoff;
      setTimeout(connect, backoff);
      backoff = Math.min(2 * backoff, BACKOFF_MAX_MS);
    });
  }
  connect();
}

function mseSession(video, path, stats, MS, onEnd) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(scheme + "//" + location.host + path + "/ws");
  ws.binaryType = "arraybuffer";
  const ops = []; // appends (ArrayBuffer) and removals ([start, end]), in order
  let ms = null, sb = null, url = "", ended = false, played = false, seeked = false;
  let last = performance.now(), trimmed = performance.now();
  let caughtUp = -1; // stats.stalls when the last catch-up began (-1: not since the start)
  const tick = setInterval(check, TICK_MS);

  function end(permanent, why) {
    if (ended) return;
    ended = true;
    clearInterval(tick);
    if (why) stats.error = why;
    try { ws.close(); } catch (e) { /* already closed */ }
    if (url) URL.revokeObjectURL(url);
    video.removeAttribute("src");
    video.srcObject = null;
    video.load();
    onEnd(permanent, played);
  }

  ws.onmessage = function (ev) {
    last = performance.now();
    stats.messages++;
    if (typeof ev.data === "string") { setup(JSON.parse(ev.data)); return; }
    stats.bytes += ev.data.byteLength;
    ops.push(ev.data);
    pump();
  };
  ws.onclose = function (ev) {
    stats.closeCode = ev.code;
    stats.closeReason = ev.reason;
    end(PERMANENT.indexOf(ev.code) >= 0, ev.reason || "connection closed (" + ev.code + ")");
  };

  function setup(info) {
    stats.codec = info.codec;
    const mime = 'video/mp4; codecs="' + info.codec + '"';
    if (!MS.isTypeSupported(mime)) { end(true, "this browser cannot play " + mime); return; }
    ms = new MS();
    ms.addEventListener("sourceopen", function () {
      if (ended) return;
      sb = ms.addSourceBuffer(mime);
      sb.mode = "segments";
      sb.addEventListener("updateend", function () { follow(); pump(); });
      sb.addEventListener("error", function () { end(false, "SourceBuffer error"); });
      pump();
    }, { once: true });
    if (window.ManagedMediaSource && ms instanceof window.ManagedMediaSource) {
      video.disableRemotePlayback = true; // iOS: a ManagedMediaSource needs it (or AirPlay)
      video.srcObject = ms;
    } else {
      url = URL.createObjectURL(ms);
      video.src = url;
    }
  }

  function pump() {
    if (ended || !sb || sb.updating || !ops.length) return;
    const op = ops.shift();
    try {
      if (op instanceof ArrayBuffer) { sb.appendBuffer(op); stats.appends++; }
      else { sb.remove(op[0], op[1]); stats.trims++; }
    } catch (e) {
      end(false, "append: " + e.name + ": " + e.message);
    }
  }

  // After each append: start, then stay at the live edge by playback rate. Besides more than
  // RATE_UP_S ahead, the start and every stall (the playhead waited while data came in) begin
  // a catch-up as soon as more than RATE_DOWN_S is ahead: what they added is not kept.
  function follow() {
    const b = sb.buffered;
    if (!b.length) return;
    const edge = b.end(b.length - 1);
    if (!seeked) {
      // in "segments" mode the first fragment rarely starts at 0: go where the data is
      seeked = true;
      played = true;
      video.currentTime = b.start(0);
      stats.seeks++;
      video.play().catch(function (e) { stats.error = "play: " + e.message; });
    }
    const ahead = edge - video.currentTime;
    stats.ahead = ahead;
    stats.buffered = edge - b.start(0);
    stats.bufferedMax = Math.max(stats.bufferedMax, stats.buffered);
    if (ahead > LIVE_SEEK_S) {
      video.currentTime = edge - RATE_DOWN_S;
      stats.liveSeeks++;
    } else if (ahead > RATE_UP_S || (ahead > RATE_DOWN_S && caughtUp !== stats.stalls)) {
      caughtUp = stats.stalls;
      if (video.playbackRate === 1) {
        video.playbackRate = CATCH_UP_RATE;
        stats.rateChanges++;
      }
    } else if (ahead < RATE_DOWN_S && video.playbackRate !== 1) {
      video.playbackRate = 1;
      stats.rateChanges++;
    }
    stats.rate = video.playbackRate;
  }

  // Every TICK_MS: silence, gaps, trimming, state.
  function check() {
    if (ended) return;
    const now = performance.now();
    if (now - last > SILENT_MS) { end(false, "no data for " + SILENT_MS / 1000 + " s"); return; }
    if (!sb) return;
    const b = sb.buffered, t = video.currentTime;
    for (let i = 1; i < b.length; i++) { // stuck at the end of a range: jump the gap
      if (t < b.start(i) && t >= b.end(i - 1) - 0.1) {
        video.currentTime = b.start(i);
        stats.gapSkips++;
        break;
      }
    }
    if (now - trimmed > TRIM_EVERY_MS && b.length && t - KEEP_S > b.start(0)) {
      trimmed = now;
      ops.push([0, t - KEEP_S]);
      pump();
    }
    if (seeked) stats.state = video.paused ? "paused" : "playing";
  }
}

// -- latency: the test pattern's capture time, read back from each frame shown ------------
// The pattern (sources/pattern.py) codes two rows of 32 black/white cells in the top-left
// corner: row 0 the frame index, row 1 the capture time in ms of the server's monotonic
// clock (mod 2^32). Each sample is [index, capture ms, display time (ms since the epoch),
// Date.now() at the callback].
function watchLatency(video, stats) {
  if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  function onFrame(now, meta) {
    const cell = Math.max(2, Math.min(Math.floor(meta.width / 36), Math.floor(meta.height / 8)));
    const w = 32 * cell, h = 2 * cell;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.drawImage(video, 0, 0, w, h, 0, 0, w, h);
    const code = readCode(ctx.getImageData(0, 0, w, h).data, w, cell);
    if (code) {
      stats.latency.push([code[0], code[1], performance.timeOrigin + meta.expectedDisplayTime,
                          Date.now()]);
      if (stats.latency.length > LATENCY_KEEP) stats.latency.splice(0, LATENCY_KEEP / 2);
    }
    video.requestVideoFrameCallback(onFrame);
  }
  video.requestVideoFrameCallback(onFrame);
}

// sources/pattern.py read_code, on RGBA pixels (the green channel, as it reads BGR's).
function readCode(rgba, width, cell) {
  const half = Math.max(1, cell >> 2), out = [];
  for (let row = 0; row < 2; row++) {
    const cy = row * cell + (cell >> 1);
    let value = 0;
    for (let bit = 0; bit < 32; bit++) {
      const cx = bit * cell + (cell >> 1);
      let sum = 0, n = 0;
      for (let y = cy - half + 1; y < cy + half; y++) {
        for (let x = cx - half + 1; x < cx + half; x++) { sum += rgba[4 * (y * width + x) + 1]; n++; }
      }
      const v = sum / n;
      if (v > 60 && v < 195) return null; // neither black nor white: no code here
      value = value * 2 + (v >= 128 ? 1 : 0);
    }
    out.push(value);
  }
  return out;
}
