"""The live status page (``GET /``): one self-contained HTML document.

The page carries its first data as embedded JSON and renders it with its own
script, then refreshes from ``/status`` and ``/audit`` every second. One
renderer (the script) serves both the first paint and the updates; values are
set as text, never as markup, and the content security policy allows only
this page's own script (by nonce) and requests to this origin.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .5em; }
h2 { font-size: 1.05em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: .2em .6em; text-align: left; }
.big { font-size: 1.6em; font-weight: bold; }
.latched { background: #fdd; border: 1px solid #c00; padding: .4em; margin: .5em 0; }
.muted { color: #777; }
"""

# Renders the status and audit JSON into the page; the same code paints the
# first view (from the embedded data) and every refresh.
_SCRIPT = """
"use strict";
function el(tag, text) { const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text); return e; }
function table(id, head, rows) {
  const t = document.getElementById(id); t.replaceChildren();
  const tr = el("tr"); head.forEach(h => tr.appendChild(el("th", h))); t.appendChild(tr);
  rows.forEach(r => { const row = el("tr"); r.forEach(c => row.appendChild(el("td", c)));
    t.appendChild(row); });
}
function pct(x) { return x === null || x === undefined ? "-" : (100 * x).toFixed(1) + "%"; }
function ms(x) { return x === null || x === undefined ? "-" : (1000 * x).toFixed(1) + " ms"; }
function render(status, audit) {
  document.getElementById("primary").textContent = status.primary;
  document.getElementById("previous").textContent = status.previous || "none";
  document.getElementById("version").textContent = status.version;
  document.getElementById("store").textContent = status.store;
  const latch = document.getElementById("latch");
  latch.hidden = !status.latched;
  latch.textContent = status.latched ? "Automatic rollback latched: " + status.latch_reason : "";
  table("weights", ["backend", "role", "weight", "drained"], status.backends.map(b => [
    b, b === status.primary ? "primary" : "candidate", status.weights[b] + "%",
    status.drained.includes(b) ? "yes" : "no"]));
  const g = status.guards;
  document.getElementById("guard-state").textContent = !g.enabled ? "disabled" :
    g.armed ? "armed, watching " + g.guarded.join(", ") + " against " + g.reference :
    "not armed (nothing to roll back to)";
  document.getElementById("guard-trip").textContent = g.last_trip || "none";
  table("guards", ["backend", "samples", "error rate", "p95", "p95 ratio"],
    Object.entries(g.backends).map(([b, w]) => [b, w.samples, pct(w.error_rate),
      ms(w.p95_seconds), w.p95_ratio === null ? "-" : w.p95_ratio.toFixed(2)]));
  document.getElementById("thresholds").textContent =
    "error rate > " + pct(g.thresholds.error_rate) + ", p95 ratio > " +
    (g.thresholds.p95_latency_ratio ?? "off") + ", shadow mismatch > " +
    pct(g.thresholds.shadow_mismatch_rate) + " over " + g.window_seconds + " s (min " +
    g.min_samples + " samples)";
  table("shapes", ["query shape", "matched", "compared", "match rate"],
    status.shadow.shapes.map(s => [s.shape, s.matched, s.compared,
      s.compared ? pct(s.matched / s.compared) : "-"]));
  table("audit", ["when", "who", "action", "result", "message"],
    audit.map(a => [a.at, a.who, a.action, a.result, a.message]));
}
const initial = JSON.parse(document.getElementById("initial").textContent);
render(initial.status, initial.audit);
async function refresh() {
  try {
    const [s, a] = await Promise.all([fetch("status"), fetch("audit?limit=20")]);
    if (!s.ok || !a.ok) throw new Error("HTTP " + s.status + "/" + a.status);
    render(await s.json(), (await a.json()).entries);
    const u = document.getElementById("updated");
    u.textContent = "live, updated " + new Date().toISOString();
    u.dataset.live = "live";
  } catch (err) {
    const u = document.getElementById("updated");
    u.textContent = "cannot refresh: " + err; u.dataset.live = "stale";
  }
}
setInterval(refresh, 1000);
refresh();
"""

_BODY = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>boltproxy traffic control</title><style>{style}</style></head>
<body>
<h1>boltproxy traffic control</h1>
<p>Primary: <span id="primary" class="big"></span>
  <span class="muted">(previous: <span id="previous"></span>; state version
  <span id="version"></span>; store <span id="store"></span>)</span></p>
<div id="latch" class="latched" hidden></div>
<h2>Weights</h2><table id="weights"></table>
<h2>Guards</h2>
<p id="guard-state"></p><p class="muted" id="thresholds"></p>
<p>Last trip: <span id="guard-trip"></span></p>
<table id="guards"></table>
<h2>Shadow match rate per query shape</h2><table id="shapes"></table>
<h2>Recent changes</h2><table id="audit"></table>
<p class="muted" id="updated" data-live="initial">as served</p>
<script type="application/json" id="initial">{data}</script>
<script nonce="{nonce}">{script}</script>
</body></html>
"""


def render_page(status: dict[str, Any], audit: list[dict[str, Any]]) -> web.Response:
    nonce = secrets.token_urlsafe(16)
    # "<" escaped so that no value can close the data's script element.
    data = json.dumps({"status": status, "audit": audit}).replace("<", "\\u003c")
    body = _BODY.format(style=_STYLE, data=data, nonce=nonce, script=_SCRIPT)
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline';"
        " connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return web.Response(
        text=body,
        content_type="text/html",
        headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"},
    )
