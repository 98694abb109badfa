"""The status page at `/`: one self-contained HTML document (no external assets: boards are
often offline). The first status is embedded so the page renders without waiting; it then
polls `/api/status` and reloads `/snapshot.jpg` every few seconds. Beside the snapshot, a small
muted live player per stream (the `/view` page's player, web/player.js). A table lists every
camera's streams with their URLs and figures."""

from __future__ import annotations

import json
from typing import Any

from .view import player_script

REFRESH_MS = 2000

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camera-streaming</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 18px;display:flex;gap:16px;align-items:center}
header h1{font-size:18px;margin:0}.badge{padding:2px 8px;border-radius:9px;font-size:12px}
.ok{background:#2e9d5b}.bad{background:#c94040}
main{display:grid;grid-template-columns:minmax(320px,1.3fr) minmax(300px,1fr);gap:14px;
padding:14px}
section{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 3px #0002}
h2{font-size:14px;margin:0 0 8px;color:#566}
#snap,.tile video{width:100%;border-radius:4px;background:#222;min-height:120px;display:block}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:10px}
.tile{margin:0}.tile figcaption{font-size:12px;color:#566;margin-top:3px}
table{border-collapse:collapse;width:100%}td{padding:3px 6px;border-bottom:1px solid #eee}
td:first-child{color:#667;width:45%}code{background:#eef;padding:1px 4px;border-radius:3px}
#chart{width:100%;height:190px}.legend span{margin-right:12px}
</style></head><body>
<header><h1>camera-streaming</h1><span id="health" class="badge">...</span>
<span id="summary"></span></header>
<main>
<section><h2>Latest frame and live view</h2><div class="tiles" id="tiles">
<figure class="tile"><img id="snap" alt="latest frame" src="/snapshot.jpg">
<figcaption>snapshot</figcaption></figure></div></section>
<section><h2>Stream</h2><div id="urls"></div><table id="figures"></table></section>
<section style="grid-column:1/-1"><h2>Cameras and streams</h2>
<table id="streams"></table></section>
<section style="grid-column:1/-1"><h2>Memory, last hour</h2>
<svg id="chart" viewBox="0 0 800 190" preserveAspectRatio="none" data-points="0"></svg>
<div class="legend"><span style="color:#2563eb">&#9632; RSS</span>
<span style="color:#ea7a14">&#9632; allocator in use</span><span id="range"></span></div>
</section></main>
<script>__PLAYER__</script>
<script>
const initial = __STATUS__;
const fmtMB = b => (b / 1e6).toFixed(1) + " MB";
const snap = document.getElementById("snap");
snap.onload = () => { snap.dataset.loaded = "1"; };
function row(k, v) { return "<tr><td>" + k + "</td><td>" + v + "</td></tr>"; }
function esc(t) { return String(t).replace(/[&<>"]/g, c => "&#" + c.charCodeAt(0) + ";"); }
function render(s) {
  const st = s.stats;
  const h = document.getElementById("health");
  h.textContent = s.healthy ? "frames flowing" : "no frames";
  h.className = "badge " + (s.healthy ? "ok" : "bad");
  document.getElementById("summary").textContent =
    st.fps.toFixed(1) + " fps, " + st.clients + " client(s), " + (st.mse_viewers || 0) +
    " browser(s), up " + Math.floor(st.uptime_s) + " s";
  document.getElementById("urls").innerHTML = s.urls.map(
    u => "<p><code>" + esc(u) + "</code></p>").join("");
  document.getElementById("figures").innerHTML =
    row("source", esc(s.source)) + row("video", esc(s.video)) +
    row("encoder", esc(st.encoder) + " (" + esc(s.codec) + ")") +
    row("FPS", st.fps.toFixed(1)) + row("frames", st.frames) +
    row("clients / sessions", st.clients + " / " + st.sessions) +
    row("browsers watching", st.mse_viewers || 0) +
    row("dropped", st.dropped) + row("sent", fmtMB(st.bytes_sent)) +
    row("RSS", fmtMB(st.rss_bytes)) +
    row("allocator in use", st.heap_bytes == null ? "n/a" : fmtMB(st.heap_bytes)) +
    row("hook time", st.hook_seconds.toFixed(2) + " s, " + st.hook_errors + " error(s)") +
    row("source restarts", st.source_restarts);
  streams(s);
  chart(s.memory);
}
function streams(s) {
  const figs = {};
  for (const c of (s.stats.cameras || [])) for (const x of c.streams) figs[x.path] = [c, x];
  let html = "<tr><td>camera / stream</td><td>URL</td><td>video</td><td>encoder</td>" +
    "<td>fps</td><td>clients</td><td>browsers</td><td>dropped</td></tr>";
  for (const c of (s.cameras || [])) for (const x of c.streams) {
    const [cf, f] = figs[x.path] || [{}, {}];
    html += '<tr data-path="' + esc(x.path) + '"><td>' + esc(c.name) + " " + esc(x.path) +
      "</td><td><code>" + esc(x.urls[0]) + "</code></td><td>" + esc(x.video) + "</td><td>" +
      esc(x.encoder) + "</td><td>" + (f.fps == null ? "" : f.fps.toFixed(1)) + "</td><td>" +
      (f.clients == null ? "" : f.clients) + "</td><td>" +
      (f.mse_viewers == null ? "" : f.mse_viewers) + "</td><td>" +
      (f.dropped == null ? "" : f.dropped) +
      "</td></tr>";
  }
  document.getElementById("streams").innerHTML = html;
}
function chart(mem) {
  const svg = document.getElementById("chart");
  const W = 800, H = 190, P = 22;
  if (!mem.length) { svg.innerHTML = ""; return; }
  const t0 = mem[0][0], t1 = Math.max(mem[mem.length - 1][0], t0 + 60);
  let hi = 0;
  for (const m of mem) hi = Math.max(hi, m[1], m[2] || 0);
  hi = hi * 1.15 || 1;
  const x = t => P + (W - 2 * P) * (t - t0) / (t1 - t0);
  const y = v => H - P - (H - 2 * P) * v / hi;
  const line = (i, c) => {
    const pts = mem.filter(m => m[i] != null)
      .map(m => x(m[0]).toFixed(1) + "," + y(m[i]).toFixed(1));
    if (pts.length === 1) pts.push((W - P) + "," + pts[0].split(",")[1]);
    return '<polyline fill="none" stroke-width="2" stroke="' + c + '" points="' +
      pts.join(" ") + '"/>';
  };
  let grid = "";
  for (let k = 0; k <= 4; k++) {
    const v = hi * k / 4;
    grid += '<line x1="' + P + '" x2="' + (W - P) + '" y1="' + y(v) + '" y2="' + y(v) +
      '" stroke="#e3e6ea"/><text x="' + (P + 2) + '" y="' + (y(v) - 3) +
      '" font-size="10" fill="#889">' + fmtMB(v) + "</text>";
  }
  const hhmm = t => new Date(t * 1000).toTimeString().slice(0, 8);
  grid += '<text x="' + P + '" y="' + (H - 6) + '" font-size="10" fill="#889">' + hhmm(t0) +
    '</text><text x="' + (W - P) + '" y="' + (H - 6) +
    '" font-size="10" fill="#889" text-anchor="end">' + hhmm(t1) + "</text>";
  svg.innerHTML = grid + line(1, "#2563eb") + line(2, "#ea7a14");
  svg.dataset.points = mem.length;
  document.getElementById("range").textContent =
    mem.length + " samples, last RSS " + fmtMB(mem[mem.length - 1][1]);
}
function live(s) {
  const tiles = document.getElementById("tiles");
  for (const c of (s.cameras || [])) for (const x of c.streams) {
    const fig = document.createElement("figure");
    fig.className = "tile";
    fig.innerHTML = '<video muted autoplay playsinline></video><figcaption><a href="/view' +
      esc(x.path) + '">' + esc(x.path) + "</a> <span></span></figcaption>";
    fig.dataset.path = x.path;
    tiles.appendChild(fig);
    const player = startPlayer(fig.querySelector("video"), x.path, {mode: "auto"});
    const state = fig.querySelector("span");
    setInterval(() => {
      state.textContent = player.state + (player.state === "playing" ? "" : " " + player.error);
    }, 1000);
  }
}
render(initial);
live(initial);
setInterval(() => {
  fetch("/api/status").then(r => r.json()).then(render).catch(() => {});
  snap.src = "/snapshot.jpg?t=" + Date.now();
}, __REFRESH__);
</script></body></html>
"""


def render_page(status: dict[str, Any]) -> str:
    data = json.dumps(status).replace("</", "<\\/")
    page = _PAGE.replace("__STATUS__", data).replace("__REFRESH__", str(REFRESH_MS))
    return page.replace("__PLAYER__", player_script())
