// rnnkit demo page: plain JS against the same server's JSON API (no build step, no CDN).
"use strict";

const $ = (sel) => document.querySelector(sel);
const runsByTask = {};  // task -> the run name this page uses for it (the first loaded)

async function postJSON(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}

function showError(section, err) {
  section.querySelector(".error").textContent = err ? String(err.message || err) : "";
}

// ----------------------------------------------------------------------------- runs
async function loadRuns() {
  const runs = await (await fetch("/api/runs")).json();
  for (const run of runs) if (!(run.task in runsByTask)) runsByTask[run.task] = run.name;
  $("#runs").textContent = runs.length
    ? "Serving: " + runs.map((r) => `${r.name} (${r.task})`).join(", ")
    : "No runs loaded.";
  for (const section of document.querySelectorAll("section[data-task]")) {
    if (!(section.dataset.task in runsByTask)) {
      section.classList.add("disabled");
      section.querySelectorAll("textarea, input, button").forEach((el) => (el.disabled = true));
      showError(section, `no ${section.dataset.task} run is loaded`);
    }
  }
}

// ------------------------------------------------------------------------- keyboard
let session = null;  // the server keeps our recurrent state under this id
let typed = 0;  // keystroke counter: only the newest answer is shown

async function suggest() {
  const box = $("#keyboard");
  const section = $("#keyboard-section");
  const mine = ++typed;
  try {
    const data = await postJSON("/api/suggest", {
      text: box.value, top_k: 3, session, run: runsByTask.lm,
    });
    session = data.session;
    if (mine !== typed) return;  // a newer keystroke is on its way
    renderSuggestions(data.suggestions, data.partial);
    showError(section, null);
  } catch (err) {
    if (mine === typed) showError(section, err);
  }
}

function renderSuggestions(suggestions, partial) {
  const chips = $("#suggestions");
  chips.replaceChildren();
  for (const s of suggestions) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "suggestion";
    b.dataset.word = s.word;
    b.append(s.word);
    const p = document.createElement("small");
    p.textContent = `${Math.round(s.probability * 100)}%`;
    b.append(p);
    b.addEventListener("click", () => accept(s.word, partial));
    chips.append(b);
  }
}

function accept(word, partial) {
  const box = $("#keyboard");
  let text = box.value;
  // Replace the partly typed word (case-insensitively: the model's words are lower-case).
  if (partial && text.toLowerCase().endsWith(partial.toLowerCase())) text = text.slice(0, text.length - partial.length);
  box.value = text + word + " ";
  box.focus();
  suggest();
}

// ------------------------------------------------------------------------ sentiment
async function analyze(event) {
  event.preventDefault();
  const section = $("#sentiment-section");
  const button = $("#analyze");
  button.disabled = true;
  try {
    const data = await postJSON("/api/sentiment", { text: $("#review").value, run: runsByTask.sentiment });
    const p = data.probabilities[data.label];
    $("#sentiment-label").textContent = `${data.label} (${Math.round(p * 100)}%)`;
    const bars = $("#sentiment-bars");
    bars.replaceChildren();
    for (const [label, prob] of Object.entries(data.probabilities)) {
      const row = document.createElement("div");
      row.className = "bar";
      const name = document.createElement("span");
      name.textContent = label;
      const fill = document.createElement("div");
      fill.style.width = `${(prob * 100).toFixed(1)}%`;
      const value = document.createElement("span");
      value.textContent = prob.toFixed(3);
      row.append(name, fill, value);
      bars.append(row);
    }
    showError(section, null);
  } catch (err) {
    $("#sentiment-label").textContent = "";
    $("#sentiment-bars").replaceChildren();
    showError(section, err);
  } finally {
    button.disabled = false;
  }
}

// ----------------------------------------------------------------------- generation
function optionalNumber(id) {
  const v = $(id).value.trim();
  return v === "" ? null : Number(v);
}

async function generate(event) {
  event.preventDefault();
  const section = $("#generate-section");
  const out = $("#generated");
  const button = $("#generate");
  button.disabled = true;
  out.textContent = $("#prompt").value;
  showError(section, null);
  const body = {
    prompt: $("#prompt").value,
    length: Number($("#length").value),
    temperature: Number($("#temperature").value),
    run: runsByTask.lm,
  };
  for (const [key, id] of [["top_k", "#top-k"], ["top_p", "#top-p"], ["seed", "#seed"]]) {
    const v = optionalNumber(id);
    if (v !== null) body[key] = v;
  }
  try {
    const res = await fetch("/api/generate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      throw new Error(data.error || `HTTP ${res.status}`);
    }
    // NDJSON: one {"token": ...} per line, appended as it arrives.
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (line.token !== undefined) {
          // A word after a line break needs no separating space.
          const token = out.textContent.endsWith("\n") ? line.token.trimStart() : line.token;
          out.textContent += token;
        }
        if (line.stopped === "timeout") showError(section, "stopped: the generation ran past its time limit");
      }
    }
  } catch (err) {
    showError(section, err);
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------------- forecast
const SVG = "http://www.w3.org/2000/svg";

function svgEl(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function drawChart(f) {
  const svg = $("#chart");
  svg.replaceChildren();
  const W = 800, H = 300, left = 56, right = 12, top = 12, bottom = 28;
  const n = f.history.length + f.point.length;
  const all = [...f.history, ...f.lower, ...f.upper, ...f.point];
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = (i) => left + (i / Math.max(n - 1, 1)) * (W - left - right);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (H - top - bottom);
  const pts = (vals, offset) => vals.map((v, i) => `${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`);
  const h = f.history.length;
  svg.append(svgEl("line", { class: "axis", x1: left, y1: H - bottom, x2: W - right, y2: H - bottom }));
  svg.append(svgEl("line", { class: "axis", x1: left, y1: top, x2: left, y2: H - bottom }));
  // Interval band: upper edge left to right, then lower edge right to left.
  const band = [...pts(f.upper, h), ...pts(f.lower, h).reverse()];
  svg.append(svgEl("polygon", { class: "band", points: band.join(" ") }));
  svg.append(svgEl("polyline", { class: "history", points: pts(f.history, 0).join(" ") }));
  // The forecast line starts at the last observation so the two read as one curve.
  const joined = [`${x(h - 1).toFixed(1)},${y(f.history[h - 1]).toFixed(1)}`, ...pts(f.point, h)];
  svg.append(svgEl("polyline", { class: "forecast", points: joined.join(" ") }));
  const label = (text, attrs) => { const t = svgEl("text", attrs); t.textContent = text; svg.append(t); };
  label(hi.toPrecision(4), { x: left - 6, y: top + 10, "text-anchor": "end" });
  label(lo.toPrecision(4), { x: left - 6, y: H - bottom, "text-anchor": "end" });
  label(f.history_dates[0].slice(0, 10), { x: left, y: H - 8 });
  label(f.dates[f.dates.length - 1].slice(0, 10), { x: W - right, y: H - 8, "text-anchor": "end" });
  $("#forecast-legend").textContent =
    `${f.target}: ${h} past points (black), ${f.point.length} forecast (blue), ` +
    `${Math.round(f.level * 100)}% interval (band)`;
}

async function forecast(event) {
  event.preventDefault();
  const section = $("#forecast-section");
  const raw = $("#series").value.trim();
  const body = { run: runsByTask.forecast, history: 120 };
  if (raw) body.values = raw.split(/[\s,;]+/).filter(Boolean).map(Number);
  try {
    if (body.values && body.values.some((v) => !Number.isFinite(v))) throw new Error("values must be numbers");
    drawChart(await postJSON("/api/forecast", body));
    showError(section, null);
  } catch (err) {
    showError(section, err);
  }
}

// ---------------------------------------------------------------------------- start
document.addEventListener("DOMContentLoaded", async () => {
  $("#keyboard").addEventListener("input", suggest);
  $("#sentiment-form").addEventListener("submit", analyze);
  $("#generate-form").addEventListener("submit", generate);
  $("#forecast-form").addEventListener("submit", forecast);
  try {
    await loadRuns();
    if (runsByTask.lm) suggest();
    if (runsByTask.forecast) $("#forecast").click();
  } catch (err) {
    $("#runs").textContent = `cannot reach the server: ${err.message}`;
  }
});
