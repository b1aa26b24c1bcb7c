// The language model's tabs: a keyboard with next-word suggestions, and streamed generation.
"use strict";
(() => {
  const { $, postJSON, showError, panel, friendly } = window.rnnkit;

  // ------------------------------------------------------------------- keyboard
  panel("lm", {
    id: "keyboard-section",
    title: "Keyboard",
    html: `
      <p class="muted">Suggestions as you type; click one to accept it.</p>
      <div id="suggestions" class="chips" aria-live="polite"></div>
      <textarea id="keyboard" rows="3" placeholder="Start typing: I love dee" autocomplete="off"
        spellcheck="false"></textarea>`,
    init(section, run, picker) {
      const box = $("#keyboard", section);
      let session = null;  // the server keeps our recurrent state under this id
      let typed = 0;  // keystroke counter: only the newest answer is shown

      async function suggest() {
        const mine = ++typed;
        try {
          const data = await postJSON("/api/suggest", { text: box.value, top_k: 3, session, run: run() });
          session = data.session;
          if (mine !== typed) return;  // a newer keystroke is on its way
          render(data.suggestions, data.partial);
          showError(section, null);
        } catch (err) {
          if (mine === typed) showError(section, err);
        }
      }

      function render(suggestions, partial) {
        const chips = $("#suggestions", section);
        chips.replaceChildren();
        for (const s of suggestions) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "suggestion";
          b.dataset.word = s.word;
          b.append(s.word);
          const p = document.createElement("small");
          p.textContent = s.probability >= 0.01 ? `${Math.round(s.probability * 100)}%` : "<1%";
          b.append(p);
          b.addEventListener("click", () => accept(s.word, partial));
          chips.append(b);
        }
      }

      function accept(word, partial) {
        let text = box.value;
        // Replace the partly typed word (case-insensitively: the model's words are lower-case).
        if (partial && text.toLowerCase().endsWith(partial.toLowerCase())) {
          text = text.slice(0, text.length - partial.length);
        }
        box.value = text + word + " ";
        box.focus();
        suggest();
      }

      box.addEventListener("input", suggest);
      if (picker) picker.addEventListener("change", () => { session = null; suggest(); });
      suggest();
    },
  });

  // ----------------------------------------------------------------- generation
  panel("lm", {
    id: "generate-section",
    title: "Generation",
    html: `
      <form id="generate-form" class="grid">
        <label class="wide">Prompt <input id="prompt" type="text" value="i love" maxlength="2000"></label>
        <label>Length <input id="length" type="number" value="40" min="1" max="1000"></label>
        <label>Temperature <input id="temperature" type="number" value="0.8" min="0" max="10" step="any"
          title="0 = always the most likely token"></label>
        <label>Top-k <input id="top-k" type="number" min="1" placeholder="off"></label>
        <label>Top-p <input id="top-p" type="number" min="0.01" max="1" step="any" placeholder="off"></label>
        <label>Seed <input id="seed" type="number" min="0" placeholder="random"></label>
        <button type="submit" id="generate">Generate</button>
      </form>
      <pre id="generated" aria-live="polite"></pre>`,
    init(section, run) {
      const optional = (id) => {
        const v = $(id, section).value.trim();
        return v === "" ? null : Number(v);
      };
      $("#generate-form", section).addEventListener("submit", async (event) => {
        event.preventDefault();
        const out = $("#generated", section);
        const button = $("#generate", section);
        button.disabled = true;
        out.textContent = $("#prompt", section).value;
        showError(section, null);
        const body = {
          prompt: $("#prompt", section).value,
          length: Number($("#length", section).value),
          temperature: Number($("#temperature", section).value),
          run: run(),
        };
        for (const [key, id] of [["top_k", "#top-k"], ["top_p", "#top-p"], ["seed", "#seed"]]) {
          const v = optional(id);
          if (v !== null) body[key] = v;
        }
        try {
          const res = await fetch("/api/generate", {
            method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
          });
          if (!res.ok) {
            const data = await res.json().catch(() => ({}));
            throw new Error(friendly(data, res.status));
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
      });
    },
  });
})();
