// The translate tab: an English sentence, its Spanish translation(s) and the attention map
// (one row per translated subword, one column per source subword; darker = more attention).
"use strict";
(() => {
  const { $, postJSON, showError, panel } = window.rnnkit;

  function cell(tag, text, title) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (title) el.title = title;
    return el;
  }

  function heatmap(source, rows, weights) {
    const table = document.createElement("table");
    table.className = "attention";
    table.setAttribute("aria-label", "attention map");
    table.style.borderCollapse = "collapse";
    table.style.fontSize = "0.75rem";
    const head = document.createElement("tr");
    head.append(cell("th", ""));
    for (const s of source) {
      const th = cell("th", s.trim() || "␣");
      th.style.writingMode = "vertical-rl";
      th.style.fontWeight = "normal";
      head.append(th);
    }
    table.append(head);
    rows.forEach((tok, i) => {
      const tr = document.createElement("tr");
      const th = cell("th", tok.trim() || "␣");
      th.style.textAlign = "right";
      th.style.fontWeight = "normal";
      tr.append(th);
      weights[i].forEach((w, j) => {
        const td = cell("td", "", `${tok.trim()} ← ${source[j].trim()}: ${w.toFixed(3)}`);
        td.dataset.weight = String(w);
        td.style.width = "1.1rem";
        td.style.height = "1.1rem";
        td.style.background = `rgba(37, 99, 235, ${Math.min(1, w).toFixed(3)})`;
        tr.append(td);
      });
      table.append(tr);
    });
    return table;
  }

  panel("translate", {
    id: "translate-section",
    title: "Translate (English → Spanish)",
    html: `
      <form id="translate-form">
        <textarea id="translate-text" rows="2" placeholder="In the beginning God created the heavens and the earth."></textarea>
        <label>beam <select id="translate-beam">
          <option value="1">1 (greedy)</option><option value="5" selected>5</option>
        </select></label>
        <label>translations <select id="translate-nbest">
          <option value="1" selected>1</option><option value="3">3</option>
        </select></label>
        <button type="submit" id="translate-go">Translate</button>
      </form>
      <p id="translation" class="result" aria-live="polite"></p>
      <ol id="translate-nbest-list"></ol>
      <div id="translate-attention"></div>`,
    init(section, run) {
      $("#translate-form", section).addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = $("#translate-go", section);
        button.disabled = true;
        const beam = Number($("#translate-beam", section).value);
        const nbest = Math.min(beam, Number($("#translate-nbest", section).value));
        try {
          const data = await postJSON("/api/translate", {
            text: $("#translate-text", section).value,
            beam,
            nbest,
            run: run(),
          });
          const best = data.translations[0];
          $("#translation", section).textContent = best.text;
          const list = $("#translate-nbest-list", section);
          list.replaceChildren();
          if (data.translations.length > 1) {
            for (const t of data.translations) list.append(cell("li", `${t.text}  (${t.score.toFixed(3)})`));
          }
          const box = $("#translate-attention", section);
          box.replaceChildren();
          if (best.attention) box.append(heatmap(data.source_tokens, best.tokens, best.attention));
          showError(section, null);
        } catch (err) {
          $("#translation", section).textContent = "";
          $("#translate-nbest-list", section).replaceChildren();
          $("#translate-attention", section).replaceChildren();
          showError(section, err);
        } finally {
          button.disabled = false;
        }
      });
    },
  });
})();
