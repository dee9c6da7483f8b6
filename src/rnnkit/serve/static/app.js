// rnnkit serve: the page's behaviour. Plain JavaScript, no build step, nothing fetched from outside this server.
// Each form posts its fields as JSON to the API; a 4xx answer {error, field} is shown next to that field's
// control (or next to the form's buttons when it concerns no one field).
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const SVG = "http://www.w3.org/2000/svg";
let info = null; // GET /api/info: which tabs there are, defaults and bounds

// -- talking to the server --------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(message, field = null) {
    super(message);
    this.field = field;
  }
}

async function post(path, body, signal) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError("the server cannot be reached (is rnnkit serve still running?)");
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

async function errorOf(response) {
  try {
    const data = await response.json();
    return new ApiError(data.error || `the server answered ${response.status}`, data.field || null);
  } catch {
    return new ApiError(`the server answered ${response.status}`);
  }
}

async function postJSON(path, body) {
  return (await post(path, body)).json();
}

// -- forms and their errors -------------------------------------------------------------------------------------
function addErrorSlots(form) {
  for (const control of form.querySelectorAll("[name]")) {
    const slot = document.createElement("span");
    slot.className = "error field-error";
    slot.dataset.for = control.name;
    slot.setAttribute("role", "alert");
    control.closest("label").append(slot);
  }
}

function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error, .form-error")) slot.textContent = "";
  for (const control of form.querySelectorAll(".invalid")) control.classList.remove("invalid");
}

function showError(form, error) {
  const message = error instanceof ApiError ? error.message : `unexpected error: ${error}`;
  const field = error instanceof ApiError ? error.field : null;
  const slot = field && form.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`);
  if (slot) {
    slot.textContent = message;
    form.elements.namedItem(field).classList.add("invalid");
  } else {
    form.querySelector(".form-error").textContent = message;
  }
}

// A number field's value: null when empty (the server's default), an ApiError when it is not a number.
function numberOf(form, name) {
  const control = form.elements.namedItem(name); // not elements[name]: a field called "length" is the count
  if (control.validity && control.validity.badInput) throw new ApiError(`${name}: not a number`, name);
  const text = control.value.trim();
  return text === "" ? null : Number(text);
}

// Run `work` with the form's buttons disabled (but a Stop marked data-while-busy); show any error it throws next
// to its control.
async function busy(form, work) {
  clearErrors(form);
  const buttons = [...form.querySelectorAll("button:not([data-while-busy])")].filter((b) => !b.disabled);
  for (const b of buttons) b.disabled = true;
  try {
    await work();
  } catch (e) {
    if (e.name !== "AbortError") showError(form, e);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

// -- tabs -------------------------------------------------------------------------------------------------------
function selectTab(name) {
  for (const tab of document.querySelectorAll("#tabs button")) {
    const on = tab.dataset.panel === name;
    tab.setAttribute("aria-selected", String(on));
    $(`#panel-${tab.dataset.panel}`).hidden = !on;
  }
  history.replaceState(null, "", `#${name}`);
}

function setUpTabs() {
  const available = ["names", "text", "music"].filter((name) => info[name]);
  for (const name of available) {
    const tab = $(`#tab-${name}`);
    tab.hidden = false;
    tab.addEventListener("click", () => selectTab(name));
    $(`#${name}-label`).textContent = info[name].label;
  }
  const wanted = location.hash.slice(1);
  if (available.length) selectTab(available.includes(wanted) ? wanted : available[0]);
}

// -- names ------------------------------------------------------------------------------------------------------
function setUpNames() {
  const form = $("#names-form");
  const results = $("#names-results");
  const summary = $("#names-summary");
  addErrorSlots(form);

  const show = (items, text) => {
    results.replaceChildren(
      ...items.map(({ name, logProb }) => {
        const li = document.createElement("li");
        li.textContent = name;
        if (logProb !== undefined) {
          const span = document.createElement("span");
          span.className = "logp";
          span.textContent = `log p ${logProb.toFixed(2)}`;
          li.append(span);
        }
        return li;
      }),
    );
    summary.textContent = text;
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      const data = await postJSON("/api/names/sample", {
        n: numberOf(form, "n"),
        temperature: numberOf(form, "temperature"),
        top_p: numberOf(form, "top_p"),
        prefix: form.elements.prefix.value,
        novel: form.elements.novel.checked,
        seed: numberOf(form, "seed"),
      });
      show(data.names.map((name) => ({ name })), `${data.names.length} names, seed ${data.seed}`);
    });
  });

  $("#names-beam").addEventListener("click", () => {
    busy(form, async () => {
      const data = await postJSON("/api/names/beam", { k: numberOf(form, "k"), prefix: form.elements.prefix.value });
      const items = data.names.map((s) => ({ name: s.name, logProb: s.log_prob }));
      show(items, `the ${items.length} most probable names (beam search), natural-log probabilities`);
    });
  });

  const scoreForm = $("#score-form");
  addErrorSlots(scoreForm);
  scoreForm.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(scoreForm, async () => {
      const data = await postJSON("/api/names/score", { name: scoreForm.elements.name.value });
      drawStrip(data);
    });
  });
}

// Probability -> colour: red for one in a thousand or less, through yellow, to green for certain.
function probabilityColour(p) {
  const t = Math.min(1, Math.max(0, (Math.log10(Math.max(p, 1e-12)) + 3) / 3));
  return `hsl(${Math.round(120 * t)}, 70%, 72%)`;
}

function drawStrip(data) {
  const strip = $("#score-strip");
  strip.replaceChildren(
    ...data.chars.map((char, i) => {
      const p = data.probs[i];
      const cell = document.createElement("div");
      cell.className = "cell";
      cell.style.backgroundColor = probabilityColour(p);
      const given = data.reverse ? data.name.slice(i + 1) || "end" : data.name.slice(0, i) || "start";
      cell.title = `P(${char} | ${given}) = ${p.toPrecision(3)}`;
      const c = document.createElement("span");
      c.className = "char";
      c.textContent = char;
      const prob = document.createElement("span");
      prob.className = "prob";
      prob.textContent = p >= 0.01 ? `${(100 * p).toFixed(0)}%` : p.toExponential(0);
      cell.append(c, prob);
      return cell;
    }),
  );
  $("#score-summary").textContent =
    `${data.name}: log p = ${data.log_prob.toFixed(3)} (natural log, ` +
    (data.reverse
      ? `read right to left, the start of the name included; P(start | ${data.name}) = `
      : `the end of the name included; P(end | ${data.name}) = `) +
    `${(100 * data.end).toFixed(1)}%)`;
}

// -- text -------------------------------------------------------------------------------------------------------
function setUpText() {
  const form = $("#text-form");
  const output = $("#text-output");
  let controller = null;
  addErrorSlots(form);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    output.dataset.chunks = "0";
    delete output.dataset.done;
    busy(form, async () => {
      const prime = form.elements.prime.value;
      const body = {
        prime,
        length: numberOf(form, "length"),
        temperature: numberOf(form, "temperature"),
        seed: numberOf(form, "seed"),
      };
      const response = await post("/api/text", body, signal);
      const primeSpan = document.createElement("span");
      primeSpan.className = "prime";
      primeSpan.textContent = prime;
      output.replaceChildren(primeSpan);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        output.append(decoder.decode(value, { stream: true }));
        output.dataset.chunks = String(Number(output.dataset.chunks) + 1);
      }
      output.append(decoder.decode());
      output.dataset.done = "true";
    }).finally(() => {
      if (signal.aborted) output.dataset.done = "stopped";
    });
  });
  $("#text-stop").addEventListener("click", () => controller && controller.abort());
}

// -- melodies ---------------------------------------------------------------------------------------------------
let melody = null; // the last answer of /api/melody
let downloadURL = null;

function bytesToBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function primerOf(form) {
  const file = form.elements.primer.files[0];
  if (!file) return null;
  if (file.size > info.limits.upload) {
    throw new ApiError(`primer: the file is larger than ${(info.limits.upload / 1000).toLocaleString()} kB`, "primer");
  }
  return bytesToBase64(new Uint8Array(await file.arrayBuffer()));
}

function instrumentOptions(select, chosen) {
  for (const name of info.music.instruments) select.append(new Option(name, name, name === chosen, name === chosen));
}

function setUpMusic() {
  const form = $("#music-form");
  const select = form.elements.instrument;
  instrumentOptions(select, "piano");
  instrumentOptions(form.elements.chord_instrument, "strings");
  form.elements.tempo.placeholder = String(Math.round(info.music.tempo));
  addErrorSlots(form);
  // Over chords (when the server has a chord model): the melody lasts as long as the chords, so steps and a
  // primer do not apply, and the temperature's default is the chord model's.
  const overChords = () => info.music.chords !== null && form.elements.chords.value.trim() !== "";
  const showMode = () => {
    const over = overChords();
    form.elements.steps.disabled = over;
    form.elements.primer.disabled = over;
    form.elements.beats_per_chord.disabled = !over;
    form.elements.chord_instrument.disabled = !over;
    form.elements.temperature.placeholder = String(over ? info.music.chords.temperature : info.music.temperature);
    $("#music-label").textContent = over ? info.music.chords.label : info.music.label;
  };
  if (info.music.chords) {
    form.querySelector(".chord-controls").hidden = false;
    form.elements.chords.addEventListener("input", showMode);
  }
  showMode();

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    stopPlaying();
    busy(form, async () => {
      const key = form.elements.key.value.trim();
      const common = {
        temperature: numberOf(form, "temperature"),
        key: key === "" ? null : key,
        tempo: numberOf(form, "tempo"),
        instrument: select.value,
        seed: numberOf(form, "seed"),
      };
      const request = overChords()
        ? {
            ...common,
            chords: form.elements.chords.value,
            beats_per_chord: numberOf(form, "beats_per_chord"),
            chord_instrument: form.elements.chord_instrument.value,
          }
        : { ...common, steps: numberOf(form, "steps"), primer: await primerOf(form) };
      const data = await postJSON("/api/melody", request);
      melody = data;
      drawRoll(data);
      offerDownload(data);
      $("#music-play").disabled = false;
      const over = data.chords.length ? ` over ${data.chords.length} chords` : "";
      $("#music-summary").textContent =
        `${data.events} events (${data.notes.length} notes), ${data.beats} beats${over}, ${data.key}, ` +
        `${Math.round(data.tempo)} bpm, temperature ${data.temperature}, seed ${data.seed}`;
    });
  });
  $("#music-play").addEventListener("click", () => play(melody));
  $("#music-stop").addEventListener("click", stopPlaying);
}

function offerDownload(data) {
  if (downloadURL) URL.revokeObjectURL(downloadURL);
  const bytes = Uint8Array.from(atob(data.midi), (c) => c.charCodeAt(0));
  downloadURL = URL.createObjectURL(new Blob([bytes], { type: "audio/midi" }));
  const link = $("#music-download");
  link.href = downloadURL;
  link.download = `rnnkit-melody-${data.seed}.mid`;
  link.classList.remove("disabled");
  link.removeAttribute("aria-disabled");
}

// The piano roll: one row per semitone (black keys shaded), a line per beat and per bar, a rectangle per note;
// under the melody, the chord track as the MIDI file voices it (as `rnnkit music generate --png` draws it).
const ROLL = { left: 34, row: 11, beat: 36, pad: 2 };

function svg(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, v);
  return element;
}

function drawRoll(data) {
  const roll = $("#piano-roll");
  const pitches = [...data.notes.map((n) => n.pitch), ...data.chords.flatMap((c) => c.pitches)];
  const low = (pitches.length ? Math.min(...pitches) : 60) - ROLL.pad;
  const high = (pitches.length ? Math.max(...pitches) : 72) + ROLL.pad;
  const width = ROLL.left + Math.max(1, data.beats) * ROLL.beat + 10;
  const height = (high - low + 1) * ROLL.row;
  const y = (pitch) => (high - pitch) * ROLL.row;
  const parts = [];
  for (let p = low; p <= high; p++) {
    if ([1, 3, 6, 8, 10].includes(((p % 12) + 12) % 12)) {
      parts.push(svg("rect", { class: "row-black", x: ROLL.left, y: y(p), width: width - ROLL.left, height: ROLL.row }));
    }
    if (p % 12 === 0) {
      const label = svg("text", { class: "label", x: 2, y: y(p) + ROLL.row - 1 });
      label.textContent = `C${p / 12 - 1}`;
      parts.push(label);
    }
  }
  const [numerator, denominator] = data.time_signature;
  const barBeats = (numerator * 4) / denominator;
  for (let b = 0; b <= data.beats + 1e-9; b++) {
    const x = ROLL.left + b * ROLL.beat;
    const isBar = Math.abs(b / barBeats - Math.round(b / barBeats)) < 1e-9;
    parts.push(svg("line", { class: isBar ? "bar" : "beat", x1: x, x2: x, y1: 0, y2: height }));
  }
  for (const chord of data.chords) {
    const x = ROLL.left + chord.start * ROLL.beat;
    const width = Math.max(2, (chord.end - chord.start) * ROLL.beat - 1);
    for (const p of chord.pitches) {
      parts.push(svg("rect", { class: "chord", x, y: y(p) + 1, width, height: ROLL.row - 2, rx: 1 }));
    }
    const label = svg("text", { class: "chord-label", x: x + 2, y: y(Math.max(...chord.pitches)) - 3 });
    label.textContent = chord.symbol;
    parts.push(label);
  }
  data.notes.forEach((n, i) => {
    parts.push(
      svg("rect", {
        class: "note",
        "data-index": i,
        x: ROLL.left + n.start * ROLL.beat,
        y: y(n.pitch) + 0.5,
        width: Math.max(2, n.duration * ROLL.beat - 1),
        height: ROLL.row - 1,
        rx: 2,
      }),
    );
  });
  parts.push(svg("line", { class: "playhead", x1: ROLL.left, x2: ROLL.left, y1: 0, y2: height, visibility: "hidden" }));
  roll.setAttribute("width", width);
  roll.setAttribute("height", height);
  roll.setAttribute("viewBox", `0 0 ${width} ${height}`);
  roll.replaceChildren(...parts);
}

// Web Audio, synthesized in the page: an oscillator per note through an envelope, a soft low-pass at the end.
let audio = null; // AudioContext, made on the first Play (browsers allow sound only after a click)
let voices = [];
let frame = 0;

function timbre(program) {
  if (program < 16) return { wave: "triangle", sustain: 0.25, decay: 0.6 }; // pianos, chromatic percussion
  if (program < 24) return { wave: "square", sustain: 0.7, decay: 0.1 }; // organs
  if (program < 40) return { wave: "triangle", sustain: 0.2, decay: 0.4 }; // guitars, basses
  if (program < 72) return { wave: "sawtooth", sustain: 0.8, decay: 0.15 }; // strings, ensemble, brass, reeds
  return { wave: "sine", sustain: 0.8, decay: 0.1 }; // pipes, synths and the rest
}

async function play(data) {
  if (!data) return;
  stopPlaying();
  if (!audio) {
    audio = new AudioContext();
    audio.addEventListener("statechange", () => (document.body.dataset.audio = audio.state));
  }
  await audio.resume();
  document.body.dataset.audio = audio.state;
  const out = audio.createGain();
  out.gain.value = 0.5;
  const soften = audio.createBiquadFilter();
  soften.type = "lowpass";
  soften.frequency.value = 3000;
  out.connect(soften).connect(audio.destination);
  const secondsPerBeat = 60 / data.tempo;
  const t0 = audio.currentTime + 0.08;
  const sound = (pitch, beat, beats, level, { wave, sustain, decay }) => {
    const start = t0 + beat * secondsPerBeat;
    const end = start + beats * secondsPerBeat;
    const osc = audio.createOscillator();
    osc.type = wave;
    osc.frequency.value = 440 * 2 ** ((pitch - 69) / 12);
    const env = audio.createGain();
    env.gain.setValueAtTime(0, start);
    env.gain.linearRampToValueAtTime(level, start + 0.012);
    env.gain.setTargetAtTime(level * sustain, start + 0.012, decay / 3);
    env.gain.setTargetAtTime(0, Math.max(start + 0.02, end - 0.03), 0.02);
    osc.connect(env).connect(out);
    osc.start(start);
    osc.stop(end + 0.15);
    voices.push({ osc, end });
  };
  const melodyTimbre = timbre(data.program);
  const chordTimbre = timbre(data.chord_program);
  for (const n of data.notes) sound(n.pitch, n.start, n.duration, 0.3, melodyTimbre);
  for (const c of data.chords) for (const p of c.pitches) sound(p, c.start, c.end - c.start, 0.06, chordTimbre);
  const last = voices.reduce((a, b) => (a === null || b.end > a.end ? b : a), null); // chords may outlast notes
  voices = voices.map((v) => v.osc);
  last?.osc.addEventListener("ended", stopPlaying);
  $("#music-stop").disabled = false;
  const head = $("#piano-roll .playhead");
  head.setAttribute("visibility", "visible");
  const step = () => {
    const x = ROLL.left + Math.max(0, (audio.currentTime - t0) / secondsPerBeat) * ROLL.beat;
    head.setAttribute("x1", x);
    head.setAttribute("x2", x);
    frame = requestAnimationFrame(step);
  };
  frame = requestAnimationFrame(step);
}

function stopPlaying() {
  for (const osc of voices) {
    try {
      osc.stop();
    } catch {
      // not started yet, or already stopped
    }
  }
  voices = [];
  cancelAnimationFrame(frame);
  const head = $("#piano-roll .playhead");
  if (head) head.setAttribute("visibility", "hidden");
  $("#music-stop").disabled = true;
}

// -- start ------------------------------------------------------------------------------------------------------
async function start() {
  try {
    const response = await fetch("/api/info");
    if (!response.ok) throw await errorOf(response);
    info = await response.json();
  } catch (e) {
    $("#status").textContent = `cannot load the page's settings: ${e.message}`;
    return;
  }
  if (info.names) setUpNames();
  if (info.text) setUpText();
  if (info.music) setUpMusic();
  setUpTabs();
  document.body.dataset.ready = "true";
}

start();
