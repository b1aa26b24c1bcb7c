// The sentiment tab: a text, its label and the class probabilities as bars.
"use strict";
(() => {
  const { $, postJSON, showError, panel, probabilityBars } = window.rnnkit;

  panel("sentiment", {
    id: "sentiment-section",
    title: "Sentiment",
    html: `
      <form id="sentiment-form">
        <textarea id="review" rows="3" placeholder="The movie was fantastic and moving!"></textarea>
        <button type="submit" id="analyze">Analyze</button>
      </form>
      <p id="sentiment-label" class="result" aria-live="polite"></p>
      <div id="sentiment-bars"></div>`,
    init(section, run) {
      $("#sentiment-form", section).addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = $("#analyze", section);
        button.disabled = true;
        try {
          const data = await postJSON("/api/sentiment", { text: $("#review", section).value, run: run() });
          const p = data.probabilities[data.label];
          const note = data.known_words === false ? " — no word of this text is known to the model" : "";
          $("#sentiment-label", section).textContent = `${data.label} (${Math.round(p * 100)}%)${note}`;
          probabilityBars($("#sentiment-bars", section), Object.entries(data.probabilities));
          showError(section, null);
        } catch (err) {
          $("#sentiment-label", section).textContent = "";
          $("#sentiment-bars", section).replaceChildren();
          showError(section, err);
        } finally {
          button.disabled = false;
        }
      });
    },
  });
})();
