// The chain page: reads /api/chain and links each store to its own charts page (/?store=ID).
"use strict";
const $ = (id) => document.getElementById(id);

// Store, region and line names come from the catalogue and the devices: set as text, never as markup.
function node(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function signed(r) {
  if (r === null || r === undefined) return "–";
  const d = Math.round(100 * r);
  return `${d >= 0 ? "+" : ""}${d}%`;
}

function shiftDay(iso, days) {
  const d = new Date(iso + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

async function refresh() {
  const day = $("day").value, days = $("days").value;
  history.replaceState(null, "", `/chain?day=${day}&days=${days}`);
  document.body.dataset.state = "loading";
  $("error").classList.add("hidden");
  try {
    const r = await fetch(`/api/chain?day=${encodeURIComponent(day)}&days=${encodeURIComponent(days)}`);
    const c = await r.json();
    if (!r.ok) throw new Error(c.error || `HTTP ${r.status}`);
    draw(c);
    document.body.dataset.state = "ready";
  } catch (err) {
    $("error").textContent = err.message;
    $("error").classList.remove("hidden");
    document.body.dataset.state = "error";
  }
}

function draw(c) {
  $("kpi-stores").textContent = c.chain.stores;
  $("kpi-in").textContent = c.chain.in;
  $("kpi-out").textContent = c.chain.out;
  $("kpi-median").textContent = c.chain.median_store_in;
  const head = document.createElement("tr");
  head.append(...["#", "Store", "Region", "Visitors in", "Out", "A week before", "vs week before", "vs median store", "Entrances"]
    .map((h, i) => node("th", h, i >= 3 && i <= 7 ? "num" : "")));
  $("ranking").tHead.replaceChildren(head);
  const body = $("ranking").tBodies[0];
  body.replaceChildren();
  const end = shiftDay(c.start, c.days - 1);
  for (const s of c.stores) {
    const tr = document.createElement("tr");
    tr.dataset.store = s.store;
    const link = node("a", s.name || s.store);
    link.href = `/?store=${encodeURIComponent(s.store)}&start=${c.start}&end=${end}&interval=${c.days > 1 ? 86400 : 3600}`;
    const name = node("td");
    name.append(link);
    tr.append(node("td", s.rank), name, node("td", s.region || "–"), node("td", s.in, "num"), node("td", s.out, "num"),
      node("td", s.last_week_in, "num"), node("td", signed(s.vs_last_week), "num"), node("td", signed(s.vs_chain_median), "num"),
      node("td", Array.isArray(s.entrances) ? s.entrances.join(", ") : s.entrances));
    body.append(tr);
  }
  const box = $("regions");
  box.replaceChildren();
  const hours = [...Array(24).keys()].map((h) => `${c.start}T${String(h).padStart(2, "0")}:00`);  // local hours
  for (const [name, reg] of Object.entries(c.regions)) {
    const card = node("div", undefined, "card");
    card.append(node("h2", `${name}: visitors in (above) and out (below), and inside, by local hour`));
    const bars = node("div"), occ = node("div"), leg = node("div", undefined, "legend");
    card.append(bars, occ, leg);
    box.append(card);
    divergingBars(bars, { labels: hours, intervalS: 3600, up: [{ label: "in", colour: COLOURS[0], values: reg.in }],
      down: [{ label: "out", colour: COLOURS[0] + "99", values: reg.out }], height: 200 });
    if (c.days === 1) {
      lineChart(occ, { labels: hours, intervalS: 3600, series: [{ label: "inside", colour: "#111827", values: reg.occupancy, width: 2 }] });
    }
    legend(leg, [{ label: "in", colour: COLOURS[0] }, { label: "out", colour: COLOURS[0] + "99" },
      ...(c.days === 1 ? [{ label: "inside at the hour's end", colour: "#111827" }] : [])]);
  }
}

const q = new URLSearchParams(location.search);
$("day").value = q.get("day") || new Date().toISOString().slice(0, 10);
$("days").value = q.get("days") || "1";
$("controls").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
refresh();
