// The charts page: reads /api/* and draws with charts.js.
"use strict";
const CLASS_NAMES = { child: "Children", female_adult: "Women", male_adult: "Men", person: "People" };
const CLASS_COLOURS = { child: "#f5822f", female_adult: "#c2185b", male_adult: "#2a6fdb", person: "#2a6fdb" };
const $ = (id) => document.getElementById(id);
const nice = (c) => CLASS_NAMES[c] || c;
let META = null;
// a chain's dashboard shows one store at a time: ?store=ID travels with every API call
const STORE = new URLSearchParams(location.search).get("store");

function colourOf(cls, i) { return CLASS_COLOURS[cls] || COLOURS[i % COLOURS.length]; }

async function api(path, params) {
  const p = new URLSearchParams(params || "");
  if (STORE) p.set("store", STORE);
  const url = `${path}?${p}`;
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${url}: HTTP ${r.status}`);
  return body;
}

function shiftDay(iso, days) {
  const d = new Date(iso + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function filters() {
  const p = new URLSearchParams();
  if ($("camera").value) p.append("camera", $("camera").value);
  if ($("line").value) p.append("line", $("line").value);
  return p;
}

// Every name shown here (camera, line, class) comes from count databases: it is set as text, never
// parsed as markup (a hostile name must not run in the store owner's browser).
function node(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function pct(target, now, before) {
  target.replaceChildren();
  if (!before) { target.textContent = now ? "no data a week before" : ""; return; }
  const d = Math.round((100 * (now - before)) / before);
  target.append(node("span", `${d >= 0 ? "+" : ""}${d}%`, d >= 0 ? "up" : "down"), ` vs ${before} a week before`);
}

function fmtDuration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function fillLines() {
  const cam = $("camera").value;
  const sel = $("line");
  const keep = sel.value;
  sel.innerHTML = '<option value="">all lines</option>';
  const names = new Set();
  for (const [c, info] of Object.entries(META.cameras)) {
    if (cam && c !== cam) continue;
    for (const l of info.lines) names.add(l.name);
  }
  for (const n of [...names].sort()) sel.add(new Option(n, n));
  if (names.has(keep)) sel.value = keep;
}

async function init() {
  META = await api("/api/meta");
  const nav = $("nav");
  if (META.chain) {
    const a = node("a", "Chain");
    a.href = "/chain";
    nav.prepend(a);
    document.title = `footfall — ${STORE}`;
    $("store-name").textContent = STORE;
  }
  for (const [cam, info] of Object.entries(META.cameras)) {
    if (info.live) {
      const a = document.createElement("a");
      a.href = `/live/${encodeURIComponent(cam)}`;
      a.textContent = `Live: ${cam}`;
      nav.appendChild(a);
    }
    $("camera").add(new Option(cam, cam));
  }
  const q = new URLSearchParams(location.search);
  $("start").value = q.get("start") || META.default_day;
  $("end").value = q.get("end") || q.get("start") || META.default_day;
  $("interval").value = q.get("interval") || String(META.interval_s);
  if (!$("interval").value) $("interval").value = "900";
  if (q.get("camera")) $("camera").value = q.get("camera");
  fillLines();
  if (q.get("line")) $("line").value = q.get("line");
  $("camera").addEventListener("change", fillLines);
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  await refresh();
}

async function refresh() {
  const start = $("start").value, end = $("end").value, interval = $("interval").value;
  const f = filters();
  const base = new URLSearchParams(f);
  base.set("start", start); base.set("end", end); base.set("interval", interval);
  if (STORE) base.set("store", STORE);
  history.replaceState(null, "", `/?${base}`);
  $("csv").href = `/api/counts.csv?${base}`;
  $("error").classList.add("hidden");
  document.body.dataset.state = "loading";
  try {
    const counts = new URLSearchParams(base); counts.set("group_by", "class");
    const before = new URLSearchParams(f);
    before.set("start", shiftDay(start, -7)); before.set("end", shiftDay(end, -7));
    before.set("interval", interval); before.set("group_by", "");
    const table = new URLSearchParams(f);
    table.set("start", start); table.set("end", end); table.set("interval", "86400"); table.set("group_by", "camera,line,class");
    table.set("all_lines", "true");  // the table shows every line; the headline only the entrances
    const occ = new URLSearchParams({ day: end, interval: interval === "86400" ? "3600" : interval });
    const dw = new URLSearchParams({ start, end });
    const [c, b, t, o, d] = await Promise.all([
      api("/api/counts", counts), api("/api/counts", before), api("/api/counts", table),
      api("/api/occupancy", occ), api("/api/dwell", dw),
    ]);
    drawCounts(c, b);
    drawOccupancy(o);
    drawDwell(d);
    drawTable(t);
    document.body.dataset.state = "ready";
  } catch (err) {
    $("error").textContent = err.message;
    $("error").classList.remove("hidden");
    document.body.dataset.state = "error";
  }
}

function drawCounts(c, b) {
  const classes = [...new Set(c.series.map((s) => s.class))].sort();
  const stacks = (dir) => classes.map((cls, i) => {
    const s = c.series.find((x) => x.class === cls && x.direction === dir);
    return { label: nice(cls), colour: colourOf(cls, i) + (dir === "out" ? "99" : ""), values: s ? s.values : [] };
  });
  const beforeIn = b.series.find((s) => s.direction === "in");
  const overlay = beforeIn && beforeIn.values.length === c.buckets.length
    ? { label: "in, a week before", colour: "#667085", values: beforeIn.values } : null;
  divergingBars($("chart-counts"), { labels: c.buckets, intervalS: c.interval_s, up: stacks("in"), down: stacks("out"), overlay });
  legend($("legend-counts"), [
    ...classes.map((cls, i) => ({ label: `${nice(cls)} in`, colour: colourOf(cls, i) })),
    ...classes.map((cls, i) => ({ label: `${nice(cls)} out`, colour: colourOf(cls, i) + "99" })),
    ...(overlay ? [{ label: overlay.label, colour: overlay.colour, dashed: true }] : []),
  ]);
  $("kpi-in").textContent = c.totals.in;
  $("kpi-out").textContent = c.totals.out;
  headlineLines(c.lines);
  $("kpi-uturns").textContent = c.totals.uturns;
  pct($("kpi-in-compare"), c.totals.in, b.totals.in);
  pct($("kpi-out-compare"), c.totals.out, b.totals.out);
  const box = $("class-kpis");
  box.innerHTML = "";
  if (META.not_counted && META.not_counted.length) {
    // the model cannot tell these apart yet: their 0 is no measurement, and the shares below lean
    box.append(node("div", `Not told apart by the current model: ${META.not_counted.map(nice).join(", ")}. ` +
      "Their counts read 0 because the model cannot see them yet, not because nobody came.", "note not-counted"));
  }
  if (classes.length < 2) return; // one class: the tiles above say it all
  const all = c.totals.in || 1;
  classes.forEach((cls) => {
    const v = c.totals.by_class[cls] || { in: 0, out: 0 };
    const div = document.createElement("div");
    div.className = "kpi";
    div.dataset.class = cls;
    div.append(node("div", `${nice(cls)} in`, "label"), node("div", v.in, "value"),
      node("div", `${Math.round((100 * v.in) / all)}% of people in · ${v.out} out`, "sub"));
    box.appendChild(div);
  });
}

// Say which lines the headline counts: the entrances (visitors), a chosen line, or every line, with a
// warning when every line of a camera with several is summed (the same people counted more than once).
function headlineLines(lines) {
  const box = $("headline-lines");
  box.classList.remove("warning");
  if (Array.isArray(lines)) {
    box.textContent = `Visitors: crossings of the entrance line${lines.length > 1 ? "s" : ""} ${lines.join(", ")}.`;
  } else if (lines === "as asked") {
    box.textContent = "Crossings of the chosen camera or line.";
  } else {
    const n = Object.values(META.cameras).reduce((a, c) => a + c.lines.length, 0);
    box.textContent = n > 1
      ? `Every line is summed (${n} lines): people who cross two lines count twice. Name the door lines in dashboard.entrances.`
      : "Crossings of the store's line.";
    if (n > 1) box.classList.add("warning");
  }
}

function drawOccupancy(o) {
  $("occupancy-title").textContent = `on ${o.date}, from ${o.opens.slice(11)}`;
  const classes = Object.keys(o.by_class).length > 1 ? Object.keys(o.by_class).sort() : [];
  const series = [{ label: "all", colour: "#111827", values: o.values, width: 2.5 },
    ...classes.map((cls, i) => ({ label: nice(cls), colour: colourOf(cls, i), values: o.by_class[cls].values, width: 1.5 }))];
  lineChart($("chart-occupancy"), { labels: o.buckets, intervalS: o.interval_s, series });
  legend($("legend-occupancy"), series.map((s) => ({ label: s.label, colour: s.colour })));
  $("kpi-occupancy").textContent = `${o.current} / ${o.peak}`;
  $("kpi-occupancy-label").textContent = o.date === META.today ? "Inside now / peak" : "Inside at day end / peak";
  $("kpi-occupancy-sub").textContent = `in − out since opening, ${o.date}`;
}

function drawDwell(d) {
  $("dwell-title").textContent = `${d.visits} visit(s) seen entering and leaving`;
  hbars($("chart-dwell"), { items: d.histogram.map((h) => ({ label: h.bin, value: h.visits })) });
  $("kpi-dwell").textContent = fmtDuration(d.median_s);
  $("kpi-dwell-sub").textContent = d.visits ? `${d.visits} visits · 90% under ${fmtDuration(d.p90_s)}` : "no visit seen entering and leaving";
}

function drawTable(t) {
  const classes = [...new Set(t.series.map((s) => s.class))].sort();
  const rows = {};
  for (const s of t.series) {
    const k = `${s.camera}\u0000${s.line}`;
    rows[k] = rows[k] || {};
    rows[k][`${s.class}|${s.direction}`] = s.total;
  }
  // per class only when there are several: with one class its columns would repeat In and Out
  const split = classes.length > 1 ? classes : [];
  const entrances = Array.isArray(META.entrances) ? new Set(META.entrances) : null;
  const head = ["Camera", "Line", "Entrance", ...split.flatMap((c) => [`${nice(c)} in`, `${nice(c)} out`]), "In", "Out"];
  const headRow = document.createElement("tr");
  headRow.append(...head.map((h) => node("th", h)));
  $("table-lines").tHead.replaceChildren(headRow);
  const body = $("table-lines").tBodies[0];
  body.innerHTML = "";
  for (const k of Object.keys(rows).sort()) {
    const [cam, line] = k.split("\u0000");
    const r = rows[k];
    const cells = split.flatMap((c) => [r[`${c}|in`] || 0, r[`${c}|out`] || 0]);
    const tin = classes.reduce((a, c) => a + (r[`${c}|in`] || 0), 0);
    const tout = classes.reduce((a, c) => a + (r[`${c}|out`] || 0), 0);
    const tr = document.createElement("tr");
    tr.dataset.line = `${cam}/${line}`;
    const entrance = !entrances || entrances.has(`${cam}/${line}`) ? "yes" : "–";
    tr.append(...[cam, line, entrance, ...cells, tin, tout].map((v) => node("td", v)));
    body.appendChild(tr);
  }
}

init().catch((err) => { $("error").textContent = err.message; $("error").classList.remove("hidden"); document.body.dataset.state = "error"; });
