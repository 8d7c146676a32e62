#include "libcore/node/status_page.hpp"

namespace core::node {

namespace {

// Element ids are an interface: tests/integration/test_status_page.py reads
// #height and #peer-count from the rendered DOM.
constexpr std::string_view kPage = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>tnode status</title>
<style>
  :root { --fg: #1d2430; --muted: #667085; --line: #e4e7ec; --bg: #f7f8fa; --card: #fff;
          --ok: #137333; --syncing: #b06000; --degraded: #c5221f; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: center; gap: 12px; padding: 14px 20px; background: var(--card);
           border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; font-weight: 600; }
  .badge { padding: 2px 10px; border-radius: 999px; font-weight: 600; color: #fff; background: var(--muted); }
  .badge.ok { background: var(--ok); } .badge.syncing { background: var(--syncing); }
  .badge.degraded, .badge.unreachable { background: var(--degraded); }
  #conn { margin-left: auto; color: var(--muted); font-size: 12px; }
  #conn.down { color: var(--degraded); font-weight: 600; }
  main { display: grid; grid-template-columns: minmax(320px, 1fr) 2fr; gap: 16px; padding: 16px 20px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px;
            min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
  dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
  .mono, td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
  #reason.bad { color: var(--degraded); font-weight: 600; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 500; } td.num, th.num { text-align: right; }
  #changes { list-style: none; margin: 0; padding: 0; max-height: 260px; overflow-y: auto; }
  #changes li { padding: 2px 0; border-bottom: 1px dashed var(--line); }
  #changes time { color: var(--muted); margin-right: 8px; font-family: ui-monospace, monospace; }
  #changes li.bad { color: var(--degraded); } #changes li.good { color: var(--ok); }
  .empty { color: var(--muted); }
  @media (max-width: 800px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>tnode <span id="title-id" class="mono"></span></h1>
  <span id="status" class="badge">loading</span>
  <span id="conn">connecting&hellip;</span>
</header>
<noscript><p>This page needs JavaScript; the same data is at /health and /peers.</p></noscript>
<main>
  <section>
    <h2>Node</h2>
    <dl>
      <dt>status</dt><dd id="status-text">&ndash;</dd>
      <dt>reason</dt><dd id="reason">&ndash;</dd>
      <dt>network</dt><dd id="network">&ndash;</dd>
      <dt>node id</dt><dd id="node-id" class="mono">&ndash;</dd>
      <dt>role</dt><dd id="role">&ndash;</dd>
      <dt>height</dt><dd id="height">&ndash;</dd>
      <dt>tip</dt><dd id="tip" class="mono">&ndash;</dd>
      <dt>syncing</dt><dd id="syncing">&ndash;</dd>
      <dt>peers</dt><dd id="peer-summary">&ndash;</dd>
      <dt>version</dt><dd id="version">&ndash;</dd>
      <dt>protocol</dt><dd id="protocol-version">&ndash;</dd>
      <dt>uptime</dt><dd id="uptime">&ndash;</dd>
      <dt>updated</dt><dd id="updated">&ndash;</dd>
    </dl>
  </section>
  <section>
    <h2>Changes</h2>
    <ul id="changes"></ul>
  </section>
  <section class="wide">
    <h2>Peers: <span id="peer-count">&ndash;</span></h2>
    <table>
      <thead><tr><th>node id</th><th>address</th><th>direction</th><th>class</th><th>role</th>
        <th class="num">height</th><th class="num">rtt</th><th class="num">connected</th></tr></thead>
      <tbody id="peer-rows"><tr><td colspan="8" class="empty">loading&hellip;</td></tr></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
// Everything from the node goes into the DOM through textContent (or as an
// attribute value / class name from a fixed list), never as markup.
const REFRESH_MS = 2000;       // one /health + /peers round every 2 s
const FETCH_TIMEOUT_MS = 1500; // a request slower than this counts as a failure
const MAX_CHANGES = 60;        // entries kept in the change log
const STATUS_CLASSES = ["ok", "syncing", "degraded"];

const byId = (id) => document.getElementById(id);
let previous = null;     // the last successful view: {health, peers: Map(node_id -> peer)}
let unreachable = false;
let heightEntry = null;  // the change-log entry that consecutive height changes update

function text(v) { return v === undefined || v === null || v === "" ? "\u2013" : String(v); }
function setText(id, v) { byId(id).textContent = text(v); }
function shortId(id) { return typeof id === "string" && id.length > 16 ? id.slice(0, 12) + "\u2026" : text(id); }
function clock() { return new Date().toTimeString().slice(0, 8); }
function duration(s) {
  if (typeof s !== "number" || !isFinite(s)) return text(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  const parts = [];
  if (d) parts.push(d + "d");
  if (d || h) parts.push(h + "h");
  if (d || h || m) parts.push(m + "m");
  parts.push(Math.floor(s % 60) + "s");
  return parts.join(" ");
}
function peerLabel(p) { return shortId(p.node_id) + " " + text(p.address) + " (" + text(p.direction) + ", " + text(p.class) + ")"; }

function logChange(kind, message) {
  const list = byId("changes");
  const li = document.createElement("li");
  if (kind) li.className = kind;
  const t = document.createElement("time");
  t.textContent = clock();
  li.append(t, message);  // a string argument becomes a text node
  list.prepend(li);
  while (list.children.length > MAX_CHANGES) list.lastElementChild.remove();
  heightEntry = null;
  return li;
}

function logHeight(from, to) {
  // A run of height changes with nothing between them is one entry.
  if (heightEntry && heightEntry === byId("changes").firstElementChild) {
    heightEntry.lastChild.textContent = "height " + heightEntry.dataset.from + " \u2192 " + to;
    heightEntry.firstChild.textContent = clock();
    return;
  }
  const li = logChange("", "height " + from + " \u2192 " + to);
  li.dataset.from = String(from);
  heightEntry = li;
}

// The JSON object at `path` when the answer's status is one of `statuses`;
// anything else (a refusal at the server's connection cap, a timeout) throws.
async function getJson(path, statuses) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const r = await fetch(path, {cache: "no-store", signal: controller.signal, headers: {Accept: "application/json"}});
    if (!statuses.includes(r.status)) throw new Error(path + ": HTTP " + r.status);
    const body = await r.json();
    if (body === null || typeof body !== "object") throw new Error(path + ": not a JSON object");
    return body;
  } finally {
    clearTimeout(timer);
  }
}

function renderHealth(h) {
  const status = STATUS_CLASSES.includes(h.status) ? h.status : "";
  const badge = byId("status");
  badge.className = "badge " + status;
  badge.textContent = text(h.status);
  setText("status-text", h.status);
  setText("reason", h.reason);
  byId("reason").className = h.reason ? "bad" : "";
  setText("network", h.network);
  setText("node-id", h.node_id);
  setText("role", h.role);
  setText("height", h.height);
  setText("tip", h.tip);
  setText("syncing", h.syncing === undefined ? undefined : (h.syncing ? "yes" : "no"));
  const p = h.peers || {};
  setText("peer-summary", "inbound " + text(p.inbound) + ", outbound " + text(p.outbound) +
          ", masternodes " + text(p.masternodes));
  setText("version", h.version);
  setText("protocol-version", h.protocol_version);
  setText("uptime", duration(h.uptime_s));
  setText("updated", clock());
  setText("title-id", shortId(h.node_id) + (h.network ? " \u00b7 " + h.network : ""));
  document.title = "tnode " + text(h.status) + " \u00b7 " + shortId(h.node_id);
}

function cell(row, value, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text(value);
  row.append(td);
  return td;
}

function renderPeers(list) {
  setText("peer-count", list.length);
  const body = byId("peer-rows");
  const rows = [];
  for (const p of list) {
    const tr = document.createElement("tr");
    cell(tr, shortId(p.node_id), "mono").title = text(p.node_id);
    cell(tr, p.address, "mono");
    cell(tr, p.direction);
    cell(tr, p.class);
    cell(tr, p.role);
    cell(tr, p.height, "num");
    cell(tr, typeof p.rtt_ms === "number" ? p.rtt_ms.toFixed(p.rtt_ms < 10 ? 2 : 0) + " ms" : null, "num");
    cell(tr, typeof p.connected_s === "number" ? duration(p.connected_s) : null, "num");
    rows.push(tr);
  }
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    cell(tr, "no peers connected", "empty").colSpan = 8;
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function compare(before, now) {
  const a = before.health, b = now.health;
  if (a.node_id !== b.node_id || a.network !== b.network || a.version !== b.version)
    logChange("bad", "a different node answers: " + shortId(b.node_id) + " " + text(b.network) + " " + text(b.version));
  else if (typeof a.uptime_s === "number" && typeof b.uptime_s === "number" && b.uptime_s < a.uptime_s)
    logChange("bad", "the node restarted (uptime " + duration(a.uptime_s) + " \u2192 " + duration(b.uptime_s) + ")");
  if (a.status !== b.status) {
    const why = b.reason ? ": " + b.reason : "";
    logChange(b.status === "degraded" ? "bad" : "good", "status " + text(a.status) + " \u2192 " + text(b.status) + why);
  } else if (a.reason !== b.reason && b.reason) {
    logChange("bad", "reason: " + b.reason);
  }
  for (const [id, p] of now.peers)
    if (!before.peers.has(id)) logChange("good", "peer joined: " + peerLabel(p));
  for (const [id, p] of before.peers)
    if (!now.peers.has(id)) logChange("bad", "peer left: " + peerLabel(p));
  if (a.height !== b.height) logHeight(a.height, b.height);
  else if (a.tip !== b.tip) logChange("", "tip replaced at height " + text(b.height) + ": " + shortId(b.tip));
}

async function refresh() {
  try {
    const health = await getJson("/health", [200, 503]);  // 503: degraded, with its document
    const peerDoc = await getJson("/peers", [200]);  // one request at a time: one keep-alive connection
    const list = Array.isArray(peerDoc.peers) ? peerDoc.peers.filter((p) => p && typeof p === "object") : [];
    list.sort((x, y) => String(x.node_id).localeCompare(String(y.node_id)));
    const now = {health, peers: new Map(list.map((p) => [String(p.node_id), p]))};
    renderHealth(health);
    renderPeers(list);
    if (unreachable) logChange("good", "the node answers again");
    unreachable = false;
    const conn = byId("conn");
    conn.className = "";
    conn.textContent = "refreshing every " + REFRESH_MS / 1000 + " s";
    if (previous === null)
      logChange("", "first view: status " + text(health.status) + ", height " + text(health.height) + ", " +
                list.length + (list.length === 1 ? " peer" : " peers"));
    else
      compare(previous, now);
    previous = now;
  } catch (e) {
    if (!unreachable) logChange("bad", "the node does not answer: " + (e && e.name === "AbortError" ? "timeout" : String(e)));
    unreachable = true;
    const conn = byId("conn");
    conn.className = "down";
    conn.textContent = "not answering since " + clock();
    const badge = byId("status");
    badge.className = "badge unreachable";
    badge.textContent = "unreachable";
  } finally {
    setTimeout(refresh, REFRESH_MS);  // after the round, so rounds never overlap
  }
}

refresh();
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view status_page_html() { return kPage; }

http::Response status_page_response() {
  http::Response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::string(kPage);
  r.headers["Cache-Control"] = "no-cache";
  r.headers["Content-Security-Policy"] =
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
      "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  r.headers["X-Content-Type-Options"] = "nosniff";
  r.headers["Referrer-Policy"] = "no-referrer";
  return r;
}

}  // namespace core::node
