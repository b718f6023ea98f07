// The live page: the edge's annotated stream (or a still frame), lines drawn with the mouse, saved to the config.
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const camera = decodeURIComponent(location.pathname.split("/").pop());
let saved = [], lines = [], version = null, drag = null;

function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent.appendChild(e);
  return e;
}

function toSource(evt) {
  const svg = $("overlay");
  const p = svg.createSVGPoint();
  p.x = evt.clientX; p.y = evt.clientY;
  const q = p.matrixTransform(svg.getScreenCTM().inverse());
  const img = $("frame");
  const clamp = (v, hi) => Math.round(Math.min(Math.max(v, 0), hi) * 100) / 100;
  return [clamp(q.x, img.naturalWidth), clamp(q.y, img.naturalHeight)];
}

function inArrow([[ax, ay], [bx, by]], invert) {
  const mx = (ax + bx) / 2, my = (ay + by) / 2, dx = bx - ax, dy = by - ay;
  const n = Math.hypot(dx, dy) || 1, s = invert ? -1 : 1;
  return [mx, my, mx + (s * dy * 24) / n, my - (s * dx * 24) / n];
}

function draw() {
  const svg = $("overlay");
  svg.innerHTML = "";
  const defs = el("defs", {}, svg);
  const marker = el("marker", { id: "arrow", markerWidth: 8, markerHeight: 8, refX: 6, refY: 4, orient: "auto" }, defs);
  el("path", { d: "M0,0 L8,4 L0,8 z", fill: "#ff2bd6" }, marker);
  lines.forEach((l, i) => {
    const [[ax, ay], [bx, by]] = l.points;
    el("line", { x1: ax, y1: ay, x2: bx, y2: by, stroke: "#ff2bd6", "stroke-width": 3, "stroke-dasharray": "8 5", class: "drawn-line", "data-name": l.name }, svg);
    const [x1, y1, x2, y2] = inArrow(l.points, l.invert);
    el("line", { x1, y1, x2, y2, stroke: "#ff2bd6", "stroke-width": 3, "marker-end": "url(#arrow)" }, svg);
    const t = el("text", { x: ax + 4, y: ay + 14, fill: "#ff2bd6", "font-size": 14, "font-weight": 700 }, svg);
    t.textContent = `${i + 1}. ${l.name}`;
  });
  if (drag && drag.to) {
    el("line", { x1: drag.from[0], y1: drag.from[1], x2: drag.to[0], y2: drag.to[1], stroke: "#fff", "stroke-width": 2 }, svg);
  }
  const list = $("lines");
  list.innerHTML = "";
  lines.forEach((l, i) => {
    const li = document.createElement("li");
    const name = document.createElement("input");
    name.value = l.name; name.setAttribute("aria-label", "line name"); name.className = "line-name";
    name.addEventListener("change", () => { l.name = name.value.trim(); draw(); });
    const flip = document.createElement("button");
    flip.textContent = "flip in/out"; flip.type = "button";
    flip.addEventListener("click", () => { l.invert = !l.invert; draw(); });
    const del = document.createElement("button");
    del.textContent = "delete"; del.type = "button";
    del.addEventListener("click", () => { lines.splice(i, 1); draw(); });
    const pts = document.createElement("span");
    pts.className = "muted";
    pts.textContent = ` (${l.points[0].join(", ")}) → (${l.points[1].join(", ")})`;
    li.append(name, " ", flip, " ", del, pts);
    list.appendChild(li);
  });
}

// Per saved line, from the camera's recent tracks: the angle people walk at to it, their size, the accuracy
// measured on lines at that angle (one scene's figure), and warnings. Text only: names come from users.
function showAdvice(advice) {
  const list = $("advice");
  list.innerHTML = "";
  for (const [name, a] of Object.entries(advice)) {
    const li = document.createElement("li");
    if (a.walk_angle_deg === null) {
      li.textContent = `${name}: no recent tracks near it (the camera records them with capture on).`;
    } else {
      li.textContent = `${name}: people walk at ${Math.round(a.walk_angle_deg)}° to it, about ${Math.round(a.person_height_px)} px tall; ` +
        `counts on such lines were ${Math.round(100 * a.expected_accuracy)} % right in the scene measured.`;
    }
    for (const w of a.warnings) {
      const p = document.createElement("div");
      p.className = "note warning";
      p.textContent = w;
      li.appendChild(p);
    }
    list.appendChild(li);
  }
  document.body.dataset.advice = Object.values(advice).some((a) => a.warnings.length) ? "warned" : "ok";
}

async function loadAdvice() {
  const r = await fetch(`/api/cameras/${encodeURIComponent(camera)}/advice`);
  if (r.ok) showAdvice((await r.json()).advice);
}

function newName() {
  let k = lines.length + 1;
  while (lines.some((l) => l.name === `line-${k}`)) k++;
  return `line-${k}`;
}

function sized() {
  const img = $("frame");
  $("overlay").setAttribute("viewBox", `0 0 ${img.naturalWidth} ${img.naturalHeight}`);
  document.body.dataset.frame = `${img.naturalWidth}x${img.naturalHeight}`;
  draw();
}

async function load() {
  $("title").textContent = `Live: ${camera}`;
  const r = await fetch("/api/meta");
  const meta = await r.json();
  if (!r.ok) throw new Error(meta.error || `HTTP ${r.status}`);
  const cam = meta.cameras[camera];
  if (!cam) throw new Error(`no camera ${camera} in the device config`);
  version = meta.config_version;
  saved = cam.lines.map((l) => ({ name: l.name, points: l.points, invert: !!l.invert }));
  lines = JSON.parse(JSON.stringify(saved));
  for (const c of Object.keys(meta.cameras)) {
    if (!meta.cameras[c].live) continue;
    const a = document.createElement("a");
    a.href = `/live/${encodeURIComponent(c)}`; a.textContent = `Live: ${c}`;
    if (c === camera) a.className = "active";
    $("nav").appendChild(a);
  }
  const img = $("frame");
  let fellBack = false;
  img.addEventListener("load", () => {
    if (!img.dataset.loaded) { img.dataset.loaded = "1"; sized(); }
    if (!fellBack) $("source-note").textContent = "Live from the counting service: boxes, track ids, classes, lines and running counts as counted.";
    document.body.dataset.view = fellBack ? "snapshot" : "live";
  });
  img.addEventListener("error", () => {
    if (fellBack) { $("source-note").textContent = "The camera gave no picture."; return; }
    fellBack = true;
    $("source-note").textContent = "The counting service is not running: a still frame straight from the camera.";
    img.src = `/api/cameras/${encodeURIComponent(camera)}/snapshot.jpg?t=${Date.now()}`;
  });
  img.src = `/api/cameras/${encodeURIComponent(camera)}/live.mjpg`;
  draw();
  await loadAdvice();
}

$("overlay").addEventListener("mousedown", (e) => { drag = { from: toSource(e) }; e.preventDefault(); });
$("overlay").addEventListener("mousemove", (e) => { if (drag) { drag.to = toSource(e); draw(); } });
window.addEventListener("mouseup", (e) => {
  if (!drag) return;
  const to = toSource(e), from = drag.from;
  drag = null;
  if (Math.hypot(to[0] - from[0], to[1] - from[1]) >= 5) lines.push({ name: newName(), points: [from, to], invert: false });
  draw();
});
$("reset").addEventListener("click", () => { lines = JSON.parse(JSON.stringify(saved)); draw(); $("status").textContent = ""; });
$("save").addEventListener("click", async () => {
  $("status").textContent = "Saving…";
  document.body.dataset.save = "pending";
  // the picture the lines are drawn on: the camera's frames are scaled to it if its resolution changes
  const img = $("frame");
  const frame_size = img.naturalWidth ? [img.naturalWidth, img.naturalHeight] : null;
  const r = await fetch(`/api/cameras/${encodeURIComponent(camera)}/lines`, {
    method: "PUT", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ lines, config_version: version, frame_size }),
  });
  const body = await r.json().catch(() => ({}));
  if (r.ok) {
    version = body.config_version;
    saved = body.saved.map((l) => ({ name: l.name, points: l.points, invert: !!l.invert }));
    lines = JSON.parse(JSON.stringify(saved));
    draw();
    $("status").textContent = `Saved ${saved.length} line(s). ${body.note}.`;
    showAdvice(body.advice || {});
    document.body.dataset.save = "saved";
  } else {
    $("status").innerHTML = "";
    const p = document.createElement("div"); p.className = "error";
    p.textContent = body.error + (body.problems ? ": " + body.problems.join("; ") : "");
    $("status").appendChild(p);
    document.body.dataset.save = "refused";
  }
});
load().catch((err) => { $("error").textContent = err.message; $("error").classList.remove("hidden"); });
