// The speech tab: record from the microphone (or choose a WAV) and show the transcript.
"use strict";
(() => {
  const { $, postJSON, showError, panel, withScript } = window.rnnkit;

  withScript("/static/tasks/audio.js", "rnnkitAudio", () =>
    panel("speech", {
      id: "speech-section",
      title: "Speech to text",
      html: `
        <p class="muted">Say a string of digits, e.g. "two nine three four zero".</p>
        <button type="button" id="speech-record">● Record</button>
        <label class="muted">or a WAV file <input type="file" id="speech-file" accept=".wav,audio/wav"></label>
        <label class="muted"><input type="checkbox" id="speech-beam" checked style="width:auto"> beam search + LM</label>
        <p id="speech-status" class="muted" aria-live="polite"></p>
        <p id="speech-text" class="result" aria-live="polite"></p>
        <p id="speech-info" class="muted"></p>`,
      init(section, run) {
        const send = async (audio) => {
          try {
            const beam = $("#speech-beam", section).checked ? null : 0;
            const data = await postJSON("/api/transcribe", { audio, beam, run: run() });
            $("#speech-text", section).textContent = data.text || "(nothing recognised)";
            $("#speech-info", section).textContent =
              `${data.decoder}, ${data.audio_seconds.toFixed(2)} s of audio, ` +
              `real-time factor ${data.real_time_factor.toFixed(3)}`;
            showError(section, null);
          } catch (err) {
            $("#speech-text", section).textContent = "";
            $("#speech-info", section).textContent = "";
            showError(section, err);
          }
        };
        window.rnnkitAudio.wire(section, {
          record: $("#speech-record", section),
          file: $("#speech-file", section),
          status: $("#speech-status", section),
          send,
        });
      },
    }),
  );
})();
