// The voice commands tab: record a word (or choose a WAV) and show the command heard.
"use strict";
(() => {
  const { $, postJSON, showError, panel } = window.rnnkit;

  function withAudio(fn) {
    if (window.rnnkitAudio) return fn();
    const script = document.createElement("script");
    script.src = "/static/tasks/audio.js";
    script.onload = fn;
    document.head.append(script);
  }

  withAudio(() =>
    panel("commands", {
      id: "commands-section",
      title: "Voice commands",
      html: `
        <p class="muted">Say one command: yes, no, up, down, left, right, on, off, stop, go.</p>
        <button type="button" id="commands-record">● Record</button>
        <label class="muted">or a WAV file <input type="file" id="commands-file" accept=".wav,audio/wav"></label>
        <p id="commands-status" class="muted" aria-live="polite"></p>
        <p id="commands-heard" class="result" aria-live="polite"></p>
        <div id="commands-bars"></div>`,
      init(section, run) {
        const send = async (audio) => {
          try {
            const data = await postJSON("/api/recognize", { audio, run: run() });
            const p = data.probabilities[data.command];
            $("#commands-heard", section).textContent = `${data.command} (${Math.round(p * 100)}%)`;
            const bars = $("#commands-bars", section);
            bars.replaceChildren();
            const top = Object.entries(data.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 4);
            for (const [label, prob] of top) {
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
            $("#commands-heard", section).textContent = "";
            $("#commands-bars", section).replaceChildren();
            showError(section, err);
          }
        };
        window.rnnkitAudio.wire(section, {
          record: $("#commands-record", section),
          file: $("#commands-file", section),
          status: $("#commands-status", section),
          send,
        });
      },
    }),
  );
})();
