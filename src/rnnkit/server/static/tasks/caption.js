// The caption tab: upload or draw an image, read its caption, and see where the decoder looked
// for each word (the attention map over the CNN's feature grid, laid over the image).
"use strict";
(() => {
  const { $, postJSON, showError, panel } = window.rnnkit;
  const MAX_UPLOAD = 180 * 1024; // bytes; larger files are scaled down here (the server takes 256 KB of JSON)
  const COLOURS = { red: "#e12d2d", green: "#32be3c", blue: "#375ff0", yellow: "#ebd728", purple: "#a03ccd", white: "#ebebeb" };

  const readAsDataURL = (blob) =>
    new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(new Error("cannot read the file"));
      reader.readAsDataURL(blob);
    });

  const loadImage = (src) =>
    new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("this file is not an image the browser can show"));
      img.src = src;
    });

  // One canvas per word: the picture, then the word's attention map, cell by cell.
  function attentionCanvas(picture, map, word) {
    const figure = document.createElement("figure");
    figure.className = "caption-word";
    const canvas = document.createElement("canvas");
    canvas.width = picture.width;
    canvas.height = picture.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(picture, 0, 0);
    const rows = map.length;
    const cols = map[0].length;
    const peak = Math.max(...map.flat()) || 1;
    const cw = canvas.width / cols;
    const ch = canvas.height / rows;
    ctx.fillStyle = "rgba(0, 0, 0, 0.55)"; // dim everything, then light up where it looked
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        ctx.fillStyle = `rgba(255, 200, 40, ${(0.75 * map[r][c]) / peak})`;
        ctx.fillRect(c * cw, r * ch, cw, ch);
      }
    }
    const label = document.createElement("figcaption");
    label.textContent = word;
    figure.append(canvas, label);
    return figure;
  }

  panel("caption", {
    id: "caption-section",
    title: "Image captioning",
    html: `
      <style>
        #caption-canvas { width: 256px; height: 256px; border: 1px solid #c9ced6; touch-action: none; }
        .caption-draw { display: flex; gap: 0.6rem; align-items: flex-start; margin: 0.4rem 0; }
        .caption-words { display: flex; flex-wrap: wrap; gap: 0.4rem; }
        .caption-word { margin: 0; text-align: center; font-size: 0.85rem; }
        .caption-word canvas { display: block; }
      </style>
      <p class="muted">Upload a picture, or draw shapes on the black canvas, then ask for a caption.</p>
      <input type="file" id="caption-file" accept="image/*" aria-label="image file">
      <div class="caption-draw">
        <canvas id="caption-canvas" width="256" height="256" aria-label="drawing canvas"></canvas>
        <div>
          <select id="caption-colour" aria-label="colour"></select>
          <button type="button" id="caption-clear">Clear</button>
        </div>
      </div>
      <label><input type="checkbox" id="caption-beam" checked> beam search (3)</label>
      <button type="button" id="caption-go">Caption</button>
      <p id="caption-text" class="result" aria-live="polite"></p>
      <div id="caption-words" class="caption-words"></div>`,
    init(section, run) {
      const canvas = $("#caption-canvas", section);
      const ctx = canvas.getContext("2d");
      const colour = $("#caption-colour", section);
      for (const name of Object.keys(COLOURS)) colour.append(new Option(name, COLOURS[name]));
      let upload = null; // data: URL of an uploaded file, or null when the canvas is the image
      const clear = () => {
        ctx.fillStyle = "#000";
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        upload = null;
      };
      clear();
      $("#caption-clear", section).addEventListener("click", clear);
      let drawing = false;
      const dot = (event) => {
        const box = canvas.getBoundingClientRect();
        const x = ((event.clientX - box.left) * canvas.width) / box.width;
        const y = ((event.clientY - box.top) * canvas.height) / box.height;
        ctx.fillStyle = colour.value;
        ctx.beginPath();
        ctx.arc(x, y, 10, 0, 2 * Math.PI);
        ctx.fill();
      };
      canvas.addEventListener("pointerdown", (event) => {
        if (upload) clear(); // drawing starts a new picture
        drawing = true;
        dot(event);
      });
      canvas.addEventListener("pointermove", (event) => drawing && dot(event));
      window.addEventListener("pointerup", () => (drawing = false));

      $("#caption-file", section).addEventListener("change", async (event) => {
        const file = event.target.files[0];
        if (!file) return;
        try {
          let url = await readAsDataURL(file);
          const img = await loadImage(url);
          // Show it on the canvas (letterboxed); send the file itself unless it is too big.
          clear();
          const scale = Math.min(canvas.width / img.width, canvas.height / img.height);
          const w = img.width * scale;
          const h = img.height * scale;
          ctx.drawImage(img, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
          if (file.size > MAX_UPLOAD) url = canvas.toDataURL("image/png");
          upload = url;
          showError(section, null);
        } catch (err) {
          showError(section, err);
        }
      });

      $("#caption-go", section).addEventListener("click", async () => {
        const button = $("#caption-go", section);
        button.disabled = true;
        try {
          const image = upload || canvas.toDataURL("image/png");
          const beam = $("#caption-beam", section).checked ? 3 : 1;
          const data = await postJSON("/api/caption", { image, beam, run: run() });
          $("#caption-text", section).textContent = data.caption || "(empty caption)";
          const words = $("#caption-words", section);
          words.replaceChildren();
          if (data.attention) {
            const picture = await loadImage(image);
            const small = document.createElement("canvas"); // the picture at the model's size x2
            small.width = data.image_size[1] * 2;
            small.height = data.image_size[0] * 2;
            small.getContext("2d").drawImage(picture, 0, 0, small.width, small.height);
            data.words.forEach((word, k) => words.append(attentionCanvas(small, data.attention[k], word)));
          }
          showError(section, null);
        } catch (err) {
          $("#caption-text", section).textContent = "";
          $("#caption-words", section).replaceChildren();
          showError(section, err);
        } finally {
          button.disabled = false;
        }
      });
    },
  });
})();
