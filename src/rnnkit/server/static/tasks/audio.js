// Shared by the speech and commands tabs: record the microphone (Web Audio), resample to
// 16 kHz mono, encode 16-bit PCM WAV, base64 for the JSON API. Loaded once by whichever tab
// comes first (window.rnnkitAudio); the server reads any WAV, so a chosen file is sent as is.
"use strict";
(() => {
  if (window.rnnkitAudio) return;
  const RATE = 16000;
  const MAX_SECONDS = 5; // the server's 256 KB body holds ~5.5 s of 16 kHz 16-bit audio in base64

  // Float samples in [-1, 1] -> a WAV file (RIFF header + little-endian 16-bit PCM).
  function encodeWav(samples, rate) {
    const view = new DataView(new ArrayBuffer(44 + 2 * samples.length));
    const text = (at, s) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
    text(0, "RIFF");
    view.setUint32(4, 36 + 2 * samples.length, true);
    text(8, "WAVE");
    text(12, "fmt ");
    view.setUint32(16, 16, true); // fmt chunk size
    view.setUint16(20, 1, true); // PCM
    view.setUint16(22, 1, true); // mono
    view.setUint32(24, rate, true);
    view.setUint32(28, 2 * rate, true); // bytes per second
    view.setUint16(32, 2, true); // bytes per frame
    view.setUint16(34, 16, true); // bits per sample
    text(36, "data");
    view.setUint32(40, 2 * samples.length, true);
    samples.forEach((x, i) => view.setInt16(44 + 2 * i, Math.max(-1, Math.min(1, x)) * 32767, true));
    return view.buffer;
  }

  // The browser's own (band-limited) resampler: render the clip into a 16 kHz offline context.
  async function resample(samples, rate) {
    if (rate === RATE) return samples;
    const ctx = new OfflineAudioContext(1, Math.ceil((samples.length * RATE) / rate), RATE);
    const buffer = ctx.createBuffer(1, samples.length, rate);
    buffer.copyToChannel(samples, 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    source.start();
    return (await ctx.startRendering()).getChannelData(0);
  }

  function toBase64(arrayBuffer) {
    const bytes = new Uint8Array(arrayBuffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  }

  // start() begins recording; the returned stop() resolves to {wav (ArrayBuffer), seconds}.
  // Recording also stops by itself after MAX_SECONDS (onAutoStop is then called).
  async function start(onAutoStop) {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(stream);
    const tap = ctx.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    let length = 0;
    tap.onaudioprocess = (e) => {
      const x = e.inputBuffer.getChannelData(0);
      if (length < MAX_SECONDS * ctx.sampleRate) {
        chunks.push(new Float32Array(x));
        length += x.length;
      }
    };
    source.connect(tap);
    tap.connect(ctx.destination); // a ScriptProcessor only runs while connected
    let stopped = null;
    const stop = async () => {
      if (stopped) return stopped;
      stopped = (async () => {
        clearTimeout(timer);
        source.disconnect();
        tap.disconnect();
        stream.getTracks().forEach((t) => t.stop());
        const rate = ctx.sampleRate;
        await ctx.close();
        const all = new Float32Array(length);
        let at = 0;
        for (const c of chunks) {
          all.set(c.subarray(0, Math.min(c.length, length - at)), at);
          at += c.length;
          if (at >= length) break;
        }
        const clip = await resample(all.subarray(0, Math.min(length, MAX_SECONDS * rate)), rate);
        return { wav: encodeWav(clip, RATE), seconds: clip.length / RATE };
      })();
      return stopped;
    };
    const timer = setTimeout(() => onAutoStop && onAutoStop(), MAX_SECONDS * 1000);
    return stop;
  }

  // A record button + file input pair: calls send(base64 WAV) with the recording or the file.
  function wire(section, { record, file, status, send }) {
    let stop = null;
    const finish = async () => {
      if (!stop) return;
      const s = stop;
      stop = null;
      record.textContent = "● Record";
      const { wav, seconds } = await s();
      status.textContent = `recorded ${seconds.toFixed(1)} s`;
      await send(toBase64(wav));
    };
    record.addEventListener("click", async () => {
      if (stop) return finish();
      try {
        stop = await start(finish);
        record.textContent = "■ Stop";
        status.textContent = "recording… (click Stop, or it stops after 5 s)";
        window.rnnkit.showError(section, null);
      } catch (err) {
        window.rnnkit.showError(section, new Error(`no microphone: ${err.message || err}`));
      }
    });
    file.addEventListener("change", async () => {
      const f = file.files[0];
      if (!f) return;
      status.textContent = `${f.name} (${(f.size / 1024).toFixed(0)} KB)`;
      await send(toBase64(await f.arrayBuffer()));
      file.value = "";
    });
  }

  window.rnnkitAudio = { encodeWav, resample, toBase64, start, wire, RATE, MAX_SECONDS };
})();
