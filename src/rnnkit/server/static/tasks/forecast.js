// The forecasting tab: the run's series (or values typed in) with the forecast and its interval.
"use strict";
(() => {
  const { $, postJSON, showError, panel } = window.rnnkit;
  const SVG = "http://www.w3.org/2000/svg";

  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  }

  function drawChart(section, f) {
    const svg = $("#chart", section);
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
    $("#forecast-legend", section).textContent =
      `${f.target}: ${h} past points (black), ${f.point.length} forecast (blue), ` +
      `${Math.round(f.level * 100)}% interval (band)` + (f.warnings || []).map((w) => ` — ${w}`).join("");
  }

  panel("forecast", {
    id: "forecast-section",
    title: "Forecast",
    html: `
      <form id="forecast-form">
        <textarea id="series" rows="3"
          placeholder="One 'date, value' per line, oldest first (2024-01-31, 3.2). Empty: the run's own data."></textarea>
        <button type="submit" id="forecast">Forecast</button>
      </form>
      <svg id="chart" viewBox="0 0 800 300" role="img" aria-label="forecast chart"></svg>
      <p id="forecast-legend" class="muted"></p>`,
    init(section, run, picker) {
      const form = $("#forecast-form", section);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const raw = $("#series", section).value.trim();
        const body = { run: run(), history: 120 };
        try {
          if (raw) {
            const rows = raw.split(/\n+/).map((line) => line.split(/[\s,;\t]+/).filter(Boolean));
            if (rows.some((r) => r.length !== 2 || !Number.isFinite(Number(r[1])))) {
              throw new Error("give one 'date, value' per line, e.g. 2024-01-31, 3.2.");
            }
            body.dates = rows.map((r) => r[0]);
            body.values = rows.map((r) => Number(r[1]));
          }
          drawChart(section, await postJSON("/api/forecast", body));
          showError(section, null);
        } catch (err) {
          showError(section, err);
        }
      });
      if (picker) picker.addEventListener("change", () => form.requestSubmit());
      form.requestSubmit();  // the run's own data, drawn on load
    },
  });
})();
