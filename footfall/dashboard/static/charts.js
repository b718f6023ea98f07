// Small SVG charts, no dependencies (the dashboard runs on store networks without internet access).
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";
const COLOURS = ["#4285f4", "#f5822f", "#3cb44b", "#e6194b", "#911eb4", "#46f0f0", "#808000", "#008080"];

function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function shortLabel(iso, intervalS) {
  // "2026-11-23T09:15+01:00" → "09:15", or the day for daily buckets
  return intervalS >= 86400 ? iso.slice(5, 10) : iso.slice(11, 16);
}

// Stacked bars: `up` stacks above the zero line, `down` below it; `overlay` a dashed line (values above zero).
function divergingBars(container, { labels, intervalS, up, down, overlay, height = 300 }) {
  container.innerHTML = "";
  const width = Math.max(container.clientWidth || 900, 300);
  const pad = { l: 44, r: 10, t: 10, b: 26 };
  const n = labels.length;
  const sum = (stacks, i) => stacks.reduce((a, s) => a + (s.values[i] || 0), 0);
  let maxUp = 0, maxDown = 0;
  for (let i = 0; i < n; i++) {
    maxUp = Math.max(maxUp, sum(up, i), overlay ? overlay.values[i] || 0 : 0);
    maxDown = Math.max(maxDown, sum(down, i));
  }
  const top = niceMax(maxUp), bottom = maxDown > 0 ? niceMax(maxDown) : 0;
  const plotH = height - pad.t - pad.b;
  const scale = plotH / (top + bottom || 1);
  const zeroY = pad.t + top * scale;
  const bw = (width - pad.l - pad.r) / Math.max(n, 1);
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" }, container);
  for (const v of [top, top / 2, -bottom / 2, -bottom]) {
    if (v === 0 || (v < 0 && bottom === 0)) continue;
    const y = zeroY - v * scale;
    el("line", { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: "axis" }, svg);
    el("text", { x: pad.l - 6, y: y + 4, "text-anchor": "end" }, svg).textContent = Math.abs(v);
  }
  const drawStack = (stacks, sign, direction) => {
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (const s of stacks) {
        const v = s.values[i] || 0;
        if (!v) continue;
        const h = v * scale;
        const y = sign > 0 ? zeroY - (acc + v) * scale : zeroY + acc * scale;
        const r = el("rect", {
          x: pad.l + i * bw + bw * 0.1, y, width: Math.max(bw * 0.8, 1), height: h, fill: s.colour,
          class: "bar", "data-direction": direction, "data-class": s.label, "data-value": v, "data-bucket": labels[i],
        }, svg);
        el("title", {}, r).textContent = `${labels[i]} · ${s.label} · ${direction} ${v}`;
        acc += v;
      }
    }
  };
  drawStack(up, 1, "in");
  drawStack(down, -1, "out");
  el("line", { x1: pad.l, x2: width - pad.r, y1: zeroY, y2: zeroY, class: "zero" }, svg);
  if (overlay) {
    const pts = overlay.values.map((v, i) => `${pad.l + (i + 0.5) * bw},${zeroY - (v || 0) * scale}`).join(" ");
    el("polyline", { points: pts, fill: "none", stroke: overlay.colour, "stroke-width": 2, "stroke-dasharray": "5 4", class: "overlay" }, svg);
  }
  const every = Math.max(1, Math.ceil(n / Math.floor((width - pad.l) / 48)));
  for (let i = 0; i < n; i += every) {
    el("text", { x: pad.l + (i + 0.5) * bw, y: height - 8, "text-anchor": "middle" }, svg).textContent = shortLabel(labels[i], intervalS);
  }
  return svg;
}

// Lines over buckets; null values (the future) are left out.
function lineChart(container, { labels, intervalS, series, height = 220 }) {
  container.innerHTML = "";
  const width = Math.max(container.clientWidth || 600, 300);
  const pad = { l: 36, r: 10, t: 10, b: 26 };
  const n = labels.length;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null))));
  const x = (i) => pad.l + (i + 1) * (width - pad.l - pad.r) / Math.max(n, 1);
  const y = (v) => pad.t + (1 - v / max) * (height - pad.t - pad.b);
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" }, container);
  for (const v of [0, max / 2, max]) {
    el("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: v === 0 ? "zero" : "axis" }, svg);
    el("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end" }, svg).textContent = v;
  }
  for (const s of series) {
    const pts = s.values.map((v, i) => (v === null ? null : `${x(i)},${y(v)}`)).filter(Boolean).join(" ");
    el("polyline", { points: pts, fill: "none", stroke: s.colour, "stroke-width": s.width || 2, class: "series", "data-label": s.label }, svg);
  }
  const every = Math.max(1, Math.ceil(n / Math.floor((width - pad.l) / 48)));
  for (let i = 0; i < n; i += every) {
    el("text", { x: x(i), y: height - 8, "text-anchor": "middle" }, svg).textContent = shortLabel(labels[i], intervalS);
  }
  return svg;
}

// Horizontal bars with labels (the visit-length histogram).
function hbars(container, { items, colour = COLOURS[0] }) {
  container.innerHTML = "";
  const width = Math.max(container.clientWidth || 360, 240), rowH = 24, labelW = 90;
  const height = items.length * rowH + 4;
  const max = niceMax(Math.max(0, ...items.map((d) => d.value)));
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" }, container);
  items.forEach((d, i) => {
    el("text", { x: 0, y: i * rowH + 16 }, svg).textContent = d.label;
    const w = (width - labelW - 40) * d.value / max;
    el("rect", { x: labelW, y: i * rowH + 5, width: Math.max(w, d.value ? 1 : 0), height: rowH - 10, fill: colour, class: "hbar", "data-value": d.value }, svg);
    el("text", { x: labelW + w + 6, y: i * rowH + 16 }, svg).textContent = d.value;
  });
  return svg;
}

function legend(container, items) {
  container.innerHTML = "";
  for (const it of items) {
    const s = document.createElement("span");
    s.style.setProperty("--c", it.colour);
    if (it.dashed) s.className = "dashed";
    s.textContent = it.label;
    container.appendChild(s);
  }
}
