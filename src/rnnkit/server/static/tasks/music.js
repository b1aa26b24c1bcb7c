// The music tab: compose a piece (key, meter, bars, temperature, seed), play it, see its piano
// roll, download the MIDI; with a four-voice run, also harmonise a melody from a MIDI file.
"use strict";
(() => {
  const { $, postJSON, showError, panel } = window.rnnkit;
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#c0392b", "#d68910", "#1e8449", "#2874a6"];
  const NAMES = ["soprano", "alto", "tenor", "bass"];
  const KEYS = ["C", "G", "D", "A", "E", "F", "Bb", "Eb", "Ab"].flatMap((t) => [`${t} major`]).concat(
    ["A", "E", "B", "D", "G", "C", "F"].map((t) => `${t} minor`));

  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  }

  // Piano roll: time (quarter notes) on x, MIDI pitch on y, one colour per voice.
  function drawRoll(svg, piece) {
    svg.replaceChildren();
    const all = piece.notes.flat();
    if (!all.length) return;
    const W = 800, H = 260, pad = 4;
    const end = Math.max(...all.map(([, s, d]) => s + d));
    const lo = Math.min(...all.map(([p]) => p)) - 1, hi = Math.max(...all.map(([p]) => p)) + 1;
    const x = (t) => pad + (t / end) * (W - 2 * pad);
    const rowH = (H - 2 * pad) / (hi - lo + 1);
    const y = (p) => pad + (hi - p) * rowH;
    piece.notes.forEach((voice, v) => {
      for (const [p, s, d] of voice) {
        const rect = svgEl("rect", {
          x: x(s).toFixed(1), y: y(p).toFixed(1), width: Math.max(1, x(s + d) - x(s) - 1).toFixed(1),
          height: Math.max(1, rowH - 0.5).toFixed(1), fill: COLORS[v % 4], "data-voice": v,
        });
        const title = svgEl("title", {});
        title.textContent = `${piece.voices > 1 ? NAMES[v] : "melody"}: MIDI ${p}`;
        rect.append(title);
        svg.append(rect);
      }
    });
  }

  function bytesOf(b64, type) {
    const raw = atob(b64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return new Blob([bytes], { type });
  }

  function show(section, piece) {
    drawRoll($("#music-roll", section), piece);
    const player = $("#music-player", section);
    if (player.dataset.url) URL.revokeObjectURL(player.dataset.url);
    if (piece.wav) {
      const url = URL.createObjectURL(bytesOf(piece.wav, "audio/wav"));
      player.dataset.url = url;
      player.src = url;
      player.hidden = false;
    } else {
      player.removeAttribute("src");
      player.hidden = true;
    }
    const link = $("#music-midi", section);
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(bytesOf(piece.midi, "audio/midi"));
    link.hidden = false;
    const voices = piece.voices > 1 ? "four voices" : "a melody";
    $("#music-info", section).textContent =
      `${voices}, ${piece.bars} bars in ${piece.key}, ${piece.meter}, ${piece.tempo} per minute` +
      (piece.wav_error ? ` (no audio: ${piece.wav_error})` : "");
  }

  panel("music", {
    id: "music-section",
    title: "Bach chorales",
    html: `
      <form id="music-form">
        <label>key <select id="music-key">${KEYS.map((k) => `<option>${k}</option>`).join("")}</select></label>
        <label>meter <select id="music-meter"><option>4/4</option><option>3/4</option></select></label>
        <label>bars <input id="music-bars" type="number" min="1" max="32" value="8" style="width:5em"></label>
        <label>temperature <input id="music-temperature" type="number" min="0" max="5" step="0.1" value="0.9"
          style="width:5em"></label>
        <label>seed <input id="music-seed" type="number" min="0" value="0" style="width:6em"></label>
        <button type="submit" id="music-compose">Compose</button>
      </form>
      <p class="muted" id="music-harmonize-row">or harmonise a melody:
        <input type="file" id="music-melody" accept=".mid,.midi,audio/midi"></p>
      <audio id="music-player" controls hidden></audio>
      <a id="music-midi" download="rnnkit-chorale.mid" hidden>download MIDI</a>
      <svg id="music-roll" viewBox="0 0 800 260" role="img" aria-label="piano roll"></svg>
      <p id="music-info" class="muted" aria-live="polite"></p>`,
    init(section, run) {
      const settings = () => ({
        temperature: Number($("#music-temperature", section).value),
        seed: Number($("#music-seed", section).value),
        run: run(),
      });
      const busy = (on) => { $("#music-compose", section).disabled = on; };
      $("#music-form", section).addEventListener("submit", async (event) => {
        event.preventDefault();
        busy(true);
        try {
          const piece = await postJSON("/api/compose", {
            ...settings(),
            key: $("#music-key", section).value,
            meter: $("#music-meter", section).value,
            bars: Number($("#music-bars", section).value),
          });
          show(section, piece);
          showError(section, null);
        } catch (err) {
          showError(section, err);
        } finally {
          busy(false);
        }
      });
      $("#music-melody", section).addEventListener("change", async (event) => {
        const file = event.target.files[0];
        if (!file) return;
        const raw = new Uint8Array(await file.arrayBuffer());
        let text = "";
        for (let i = 0; i < raw.length; i++) text += String.fromCharCode(raw[i]);
        busy(true);
        try {
          show(section, await postJSON("/api/harmonize", { ...settings(), melody: btoa(text) }));
          showError(section, null);
        } catch (err) {
          showError(section, err);
        } finally {
          busy(false);
        }
      });
    },
  });
})();
