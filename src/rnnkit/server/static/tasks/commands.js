// The voice commands tab: record a word (or choose a WAV) and show the command heard.
"use strict";
(() => {
  const { $, postJSON, showError, panel, probabilityBars, withScript } = window.rnnkit;

  withScript("/static/tasks/audio.js", "rnnkitAudio", () =>
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
            const top = Object.entries(data.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 4);
            probabilityBars($("#commands-bars", section), top);
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
