// The time cursor (see cursor.py): a range input whose moves redraw the charts in the browser at
// once, and reach the server only when the hand rests (then the URL and the equations follow).

const SYNC_MS = 250; // a move is told to the server once the cursor has rested this long
const EVENT = "unrolled:cursor"; // every chart with a time cursor listens (plot_component.js)
const NEAR = "unrolled:cursor-near"; // the hand reached the cursor: the charts may draw ahead

function decode(data) {
  if (typeof data === "string") return JSON.parse(data);
  return data; // components v2 hands JSON data over as an object
}

// The page-wide cursor: charts that mount later read it, charts already drawn get the event.
function publish(t) {
  window.__unrolledCursor = {t};
  window.dispatchEvent(new CustomEvent(EVENT, {detail: {t}}));
}

// Streamlit's slider look: a thin track filled up to the thumb, in the theme's primary colour.
const CSS = `
.unrolled-cursor input[type=range] { -webkit-appearance: none; appearance: none; height: 4px;
  border-radius: 2px; outline: none; cursor: pointer; margin: 0.6rem 0;
  background: linear-gradient(to right, var(--st-primary-color, #ff4b4b) var(--fill, 0%),
                              var(--st-border-color, #d6d6d9) var(--fill, 0%)); }
.unrolled-cursor input[type=range]::-webkit-slider-thumb { -webkit-appearance: none;
  width: 16px; height: 16px; border-radius: 50%; background: var(--st-primary-color, #ff4b4b); }
.unrolled-cursor input[type=range]::-moz-range-thumb { width: 16px; height: 16px; border: none;
  border-radius: 50%; background: var(--st-primary-color, #ff4b4b); }
.unrolled-cursor input[type=range]:focus-visible { box-shadow: 0 0 0 0.2rem rgba(255, 75, 75, 0.35); }
.unrolled-cursor input[type=range]:disabled { cursor: default; opacity: 0.5; }`;

function addStyle() {
  if (document.getElementById("unrolled-cursor-style")) return;
  const style = document.createElement("style");
  style.id = "unrolled-cursor-style";
  style.textContent = CSS;
  document.head.appendChild(style);
}

function build(parent) {
  addStyle();
  const box = document.createElement("div");
  box.className = "unrolled-cursor";
  // contain: a move changes the thumb and the readout's text; laid out apart, they do not make
  // Chromium lay out the rest of the page again before the charts can redraw
  box.style.cssText = "font-family:var(--st-font, sans-serif);color:var(--st-text-color, #31333f);"
    + "contain:layout style";
  const label = document.createElement("label");
  label.style.cssText = "display:block;font-size:0.875rem;margin-bottom:0.25rem;min-height:1.5rem;"
    + "line-height:1.5rem";
  const row = document.createElement("div");
  row.style.cssText = "display:flex;align-items:center;gap:0.75rem;margin-top:0.35rem";
  const input = document.createElement("input");
  input.type = "range";
  input.step = "1";
  input.style.cssText = "flex:1;min-width:0";
  const readout = document.createElement("output");
  readout.style.cssText = "min-width:9ch;font-variant-numeric:tabular-nums;font-size:0.95rem;"
    + "white-space:nowrap";
  label.htmlFor = input.id = `unrolled-cursor-${Math.random().toString(36).slice(2)}`;
  row.append(input, readout);
  box.append(label, row);
  parent.appendChild(box);
  // fresh: nothing shown yet. A range input is never empty: it starts at the middle of its range,
  // which the first max clamps, and may then equal the server's t (T = 50: both 49).
  // inFlight: the steps told to the server whose echo may still come back (in the order sent)
  const el = {box, label, input, readout, labels: null, timer: null, inFlight: [], serverT: null,
              send: null, fresh: true};
  const show = (t) => {
    const max = Number(input.max) || 0;
    input.style.setProperty("--fill", `${max > 0 ? (100 * t) / max : 0}%`);
    const word = el.labels && el.labels[t] != null ? ` “${el.labels[t]}”` : "";
    readout.value = `t = ${t}${word}`;
    input.setAttribute("aria-valuetext", readout.value);
  };
  el.move = (t) => { // a local move: redraw now, tell the server later
    show(t);
    publish(t);
    clearTimeout(el.timer);
    el.timer = setTimeout(() => {
      el.timer = null;
      el.inFlight.push(t);
      el.send(t);
    }, SYNC_MS);
  };
  el.adopt = (t) => { // the server's value (a new link, a shorter sequence, a preset)
    input.value = String(t);
    show(t);
    publish(t);
  };
  input.addEventListener("input", () => el.move(Number(input.value)));
  // A pointer over the slider or the keyboard's focus on it comes before its first move: the
  // values readout draws the steps either side then, so that move is as quick as the next ones.
  const near = () => window.dispatchEvent(new CustomEvent(NEAR));
  input.addEventListener("pointerenter", near);
  input.addEventListener("focus", near);
  return el;
}

export default function (component) {
  const {data, parentElement, setStateValue} = component;
  const d = decode(data);
  parentElement.__unrolledCursorEl ??= build(parentElement);
  const el = parentElement.__unrolledCursorEl;
  el.send = (t) => setStateValue("t", t);
  el.label.textContent = d.label;
  el.label.title = d.help || "";
  el.labels = d.labels || null;
  el.input.min = "0";
  el.input.max = String(Math.max(d.T - 1, 0));
  el.input.disabled = d.T <= 1;
  // Adopt the server's t only when the server changed it: not the echo of a move we sent (the
  // hand may have moved on since; on a slow server the echo of an earlier move can arrive after
  // the next move was sent), not an older value re-sent while a move is still pending.
  const changed = d.t !== el.serverT;
  el.serverT = d.t;
  const echo = el.inFlight.indexOf(d.t);
  if (echo >= 0) el.inFlight.splice(0, echo + 1); // the server runs in order: older echoes are past
  const local = Number(el.input.value);
  if (el.fresh || (changed && echo < 0 && d.t !== local) || local > d.T - 1) {
    el.fresh = false;
    el.adopt(d.t);
  } else if (window.__unrolledCursor?.t !== local) {
    publish(local);
  }
}
