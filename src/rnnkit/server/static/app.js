// rnnkit demo page: plain JS against the same server's JSON API (no build step, no CDN).
// This file is the frame; each task's tab lives in static/tasks/<file>.js (the task registry
// names it) and calls rnnkit.panel(...) to add its panel. /api/tasks says which to load.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

async function postJSON(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({ error: `the server answered HTTP ${res.status}` }));
  if (!res.ok) throw new Error(friendly(data, res.status));
  return data;
}

// Schema errors (422) read as "field: what pydantic said"; say it in the page's words.
function friendly(data, status) {
  const detail = data.detail && data.detail[0];
  if (status === 422 && detail) {
    const field = (detail.loc || []).filter((p) => p !== "body").join(".") || "the request";
    const rules = {
      string_too_short: `${field} is empty: type something first.`,
      string_too_long: `${field} is too long.`,
      missing: `${field} is missing.`,
      greater_than_equal: `${field} is too small.`,
      less_than_equal: `${field} is too large.`,
      int_type: `${field} must be a whole number.`,
      float_type: `${field} must be a number.`,
    };
    const key = Object.keys(rules).find((k) => (detail.type || "").startsWith(k));
    if (key) return rules[key];
  }
  if (status === 429) return "the server is busy with other generations: try again in a moment.";
  if (status === 504) return "the server took too long to answer: try a shorter input.";
  return data.error || `the server answered HTTP ${status}`;
}

function showError(section, err) {
  $(".error", section).textContent = err ? String(err.message || err) : "";
}

const runsByTask = {};  // task -> [run names]

// A panel for one task: its HTML, a run picker when several runs hold the task, and init(panel, run)
// where run() gives the run name picked (the request's "run" field).
function panel(task, { id, title, html, init }) {
  const section = document.createElement("section");
  section.id = id;
  section.dataset.task = task;
  const names = runsByTask[task] || [];
  section.innerHTML = `<h2></h2>${html}<p class="error" role="alert"></p>`;
  $("h2", section).textContent = title;
  let picker = null;
  if (names.length > 1) {
    picker = document.createElement("select");
    picker.className = "run-picker";
    picker.setAttribute("aria-label", `${task} run`);
    for (const name of names) picker.append(new Option(name, name));
    $("h2", section).after(picker);
  }
  $("#panels").append(section);
  const run = () => (picker ? picker.value : names[0]);
  init(section, run, picker);
}

// Probability bars into `container`, one row per [label, probability]: name, filled bar, value.
function probabilityBars(container, entries) {
  container.replaceChildren();
  for (const [label, prob] of entries) {
    const row = document.createElement("div");
    row.className = "bar";
    const name = document.createElement("span");
    name.textContent = label;
    const fill = document.createElement("div");
    fill.style.width = `${(prob * 100).toFixed(1)}%`;
    const value = document.createElement("span");
    value.textContent = prob.toFixed(3);
    row.append(name, fill, value);
    container.append(row);
  }
}

// Run fn once the script `src` has set window[global] (a helper several tabs share, such as
// tasks/audio.js): at once if an earlier tab loaded it, else after loading it. Tabs run before
// the helper arrives (speech, then commands), so the load is shared: one request, not one a tab.
const sharedScripts = {};
function withScript(src, global, fn) {
  if (window[global]) return fn();
  sharedScripts[src] ??= new Promise((resolve) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    document.head.append(script);
  });
  sharedScripts[src].then(fn);
}

window.rnnkit = { $, postJSON, showError, panel, friendly, probabilityBars, withScript };

async function loadTasks() {
  const tasks = await (await fetch("/api/tasks")).json();
  const runs = tasks.flatMap((t) => t.runs.map((r) => `${r} (${t.name})`));
  $("#runs").textContent = runs.length ? "Serving: " + runs.join(", ") : "No runs loaded.";
  for (const t of tasks) {
    runsByTask[t.name] = t.runs;
    if (!t.page || !t.runs.length) continue;
    await new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = `/static/tasks/${t.page}`;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`cannot load the ${t.name} tab`));
      document.head.append(script);
    });
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  try {
    await loadTasks();
  } catch (err) {
    $("#runs").textContent = `cannot reach the server: ${err.message}`;
  }
});
