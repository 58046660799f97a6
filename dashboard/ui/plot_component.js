// Unrolled's chart element (see plot_component.py for why it exists): draws a Plotly figure once,
// then redraws the same chart in place with one Plotly.react call per update. plotly_loader.js
// comes before this file (plot_component.py joins them): loadPlotly.

const CURSOR_EVENT = "unrolled:cursor"; // sent by the time cursor (cursor_component.js)
const NEAR_EVENT = "unrolled:cursor-near"; // the hand reached the cursor (cursor_component.js)
const EXPAND = {width: 512, height: 512, path: "M32 32h160v64H96v96H32V32zm288 0h160v160h-64V96h-96V32zM32 320h64v96h96v64H32V320zm416 0h64v160H320v-64h96v-96z"};
const COLLAPSE = {width: 512, height: 512, path: "M128 32h64v160H32v-64h96V32zm192 0h64v96h96v64H320V32zM32 320h160v160h-64v-96H32v-64zm288 0h160v64h-96v96h-64V320z"};

// The page's own colours and font (Streamlit passes its theme as CSS variables), so charts follow
// a light or dark theme; everything else comes with the figure's template (dashboard/theme.py).
function themeLayout(el) {
  const css = getComputedStyle(el);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const text = v("--st-text-color", "#31333f");
  const grid = v("--st-border-color-light", "rgba(49, 51, 63, 0.1)");
  const font = v("--st-font", '"Source Sans", sans-serif');
  const axis = {gridcolor: grid, zerolinecolor: grid, linecolor: grid};
  return {font: {family: font, color: text}, hoverlabel: {font: {family: font}},
          xaxis: axis, yaxis: axis, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"};
}

// A title's words without its markup (Plotly titles carry <br> and <span>), for aria-label.
function plainText(html) {
  return String(html || "").replace(/<br\s*\/?>/gi, " · ").replace(/<[^>]*>/g, "")
    .replace(/\s+/g, " ").trim();
}

function decode(data) {
  if (typeof data === "string") return JSON.parse(data);
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  return JSON.parse(new TextDecoder().decode(bytes));
}

// Plotly's typed-array JSON ({dtype, bdata: base64, shape}) as a typed array.
const TYPED = {f4: Float32Array, f8: Float64Array, i4: Int32Array, i2: Int16Array, i1: Int8Array,
               u4: Uint32Array, u2: Uint16Array, u1: Uint8Array};
function typed(v) {
  if (!v || typeof v.bdata !== "string") return v;
  const bin = atob(v.bdata);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TYPED[v.dtype](bytes.buffer);
}

// ---- The time cursor (cursor.py, cursor_component.js) -------------------------------------------
// A chart that follows the cursor comes without its cursor lines (payload.cursor holds their place
// and style): they are drawn here as thin elements over the plot, moved by the cursor's event in
// well under a frame. Moving Plotly's own shapes would make Plotly recompute the whole figure
// (measured in Chromium: 0.5-1.5 s for a 256 x 5000 heatmap). The values readout (payload.values)
// holds its lines for a window of steps and redraws the row of the new step.

function cursorT() {
  const c = window.__unrolledCursor;
  return c && Number.isInteger(c.t) ? c.t : null;
}

function axisOf(fl, ref) {
  const id = String(ref).split(" ")[0]; // "x2 domain" -> x2
  return fl[(id[0] === "x" ? "xaxis" : "yaxis") + id.slice(1)];
}

function lineStyle(line) {
  const dash = line.dash && line.dash !== "solid" ? (line.dash === "dot" ? "dotted" : "dashed") : "solid";
  return `${line.width ?? 2}px ${dash} ${line.color || "#000"}`;
}

// Reads nothing from the page's layout (only Plotly's axes): a move that read it (an element's
// offset) made Chromium lay out the page mid-move, 2-7 ms after the cursor's own change.
function placeCursor(chart) {
  const lines = chart.cursor || [];
  if (!lines.length && !chart.layer) return; // the values readout: no lines to place
  const fl = chart.gd._fullLayout;
  if (!chart.layer) { // over the plot, in the plot's own pixels (chart.plot holds the two)
    chart.layer = document.createElement("div");
    chart.layer.style.cssText = "position:absolute;left:0;top:0;pointer-events:none";
    chart.plot.appendChild(chart.layer);
  }
  const layer = chart.layer;
  while (layer.children.length < lines.length) {
    const d = document.createElement("div");
    d.className = "unrolled-cursor-line";
    // its own compositing layer, moved by a transform: a move repaints nothing under it (moved by
    // left/top, Chromium repainted the plot beneath: about 0.1 s per move at 256 x 1000)
    d.style.cssText = "position:absolute;left:0;top:0;width:0;height:0;will-change:transform";
    layer.appendChild(d);
  }
  while (layer.children.length > lines.length) layer.lastChild.remove();
  const t = cursorT();
  lines.forEach((ln, i) => {
    const div = layer.children[i];
    const xa = fl && axisOf(fl, ln.xref), ya = fl && axisOf(fl, ln.yref);
    const along = ln.axis === "x" ? xa : ya, across = ln.axis === "x" ? ya : xa;
    const p = t === null || !along || !across ? NaN : along.c2p(t);
    if (!Number.isFinite(p) || p < -0.5 || p > along._length + 0.5) {
      div.style.display = "none";
      return;
    }
    div.style.display = "block";
    const style = lineStyle(ln.line);
    let x, y, size;
    if (ln.axis === "x") { // vertical: from..to is a fraction of the y axis' height, from the bottom
      x = along._offset + p;
      y = across._offset + across._length * (1 - ln.to);
      size = {width: "0px", height: `${across._length * (ln.to - ln.from)}px`, borderLeft: style,
              borderTop: "none"};
    } else {
      x = across._offset + across._length * ln.from;
      y = along._offset + p;
      size = {height: "0px", width: `${across._length * (ln.to - ln.from)}px`, borderTop: style,
              borderLeft: "none"};
    }
    const key = JSON.stringify(size);
    if (div.__size !== key) { // only the position changes from one step to the next
      div.__size = key;
      Object.assign(div.style, size);
    }
    div.style.transform = `translate(${x}px, ${y}px)`;
    div.dataset.x = String(x); // for tests: where the line is, in the chart's pixels
  });
}

function follows(chart) {
  return Boolean((chart.cursor && chart.cursor.length) || chart.values);
}

function markStep(chart, t) { // for tests and bench_browser: the step a chart that follows shows
  if (follows(chart)) chart.box.dataset.cursor = t === null ? "" : String(t);
  else delete chart.box.dataset.cursor;
}

// The cursor lines as Plotly shapes at step t: for the camera's image, which Plotly renders apart.
function cursorShapes(chart, t) {
  return (chart.cursor || []).map((ln) => (ln.axis === "x"
    ? {type: "line", xref: ln.xref, yref: ln.yref, x0: t, x1: t, y0: ln.from, y1: ln.to, line: ln.line}
    : {type: "line", xref: ln.xref, yref: ln.yref, y0: t, y1: t, x0: ln.from, x1: ln.to, line: ln.line}));
}

function stepName(v, t) {
  return v.words ? v.words[t - v.start] || "" : "";
}

// The readout's title at step t: what follows the step is the figure's own (as styled).
function valuesTitle(v, t) {
  return `${v.title}${t}${stepName(v, t)}${v.suffix}`;
}

// The values readout at step t: its lines' y from the window (null when t is outside it).
function valuesAt(v, t) {
  if (t === null || t < v.start || t >= v.stop) return null;
  const r = t - v.start;
  return v.y.map((a) => a.subarray(r * v.units, (r + 1) * v.units));
}

// Plotly's own update of a readout chart to another step's lines and title.
function updateValues(gd, ys, title) {
  return window.Plotly.update(gd, {y: ys}, {"title.text": title}, ys.map((_, i) => i));
}

// Redraw the readout for the cursor's step; outside the window it greys out until the server's
// next window arrives (the cursor's move reaches the server when the hand rests).
async function moveValues(chart) {
  if (chart.valuesBusy) { chart.valuesAgain = true; return; }
  chart.valuesBusy = true;
  try {
    do {
      chart.valuesAgain = false;
      const t = cursorT();
      const v = chart.values;
      if (!v || chart.busy || t === chart.valuesT) break;
      const ys = valuesAt(v, t);
      if (ys === null) {
        chart.gd.style.opacity = "0.35";
        chart.valuesT = null;
        break;
      }
      const title = valuesTitle(v, t);
      const spare = usableSpare(chart, t);
      if (spare) showSpare(chart, spare);
      else await updateValues(chart.gd, ys, title);
      chart.box.setAttribute("aria-label", plainText(title));
      chart.gd.style.opacity = "";
      chart.valuesT = t;
    } while (chart.valuesAgain);
  } finally {
    chart.valuesBusy = false;
  }
  drawn(chart);
  prepareSoon(chart);
}

// ---- Steps drawn ahead (the values readout) ----------------------------------------------------
// A lecturer walks a room through the steps one arrow key at a time. Plotly's update of the
// readout costs 20-40 ms here (Plotly supplies its defaults, recomputes and redraws the axes of
// the whole chart again, for three lines), most of a move's time. So while the cursor rests, the
// steps either side of it are drawn ahead, each in a hidden copy of the chart (a "spare"): a
// one-step move shows that copy instead (a few ms), and the chart it replaces becomes the spare
// of the step just left. A longer jump, a zoomed chart or a spare not drawn yet takes Plotly's
// update, as before; a new figure or width makes every spare stale. Nothing is drawn ahead before
// the hand reaches the cursor (a pointer over it, or its focus): a page whose cursor is not used
// pays for no hidden drawing.

const SPARES = 2; // t - 1 and t + 1
const REST_MS = 80; // the cursor rested this long: draw ahead (not between the moves of a drag)

function hide(gd, hidden) { // a spare lies under the chart shown, same size, never seen or hit
  Object.assign(gd.style, hidden
    ? {position: "absolute", left: "0", top: "0", width: "100%", visibility: "hidden",
       pointerEvents: "none"}
    : {position: "", left: "", top: "", width: "", visibility: "", pointerEvents: ""});
  if (hidden) {
    gd.dataset.spare = ""; // the step it holds: data-step, once drawn (for tests)
    gd.setAttribute("aria-hidden", "true");
  } else {
    delete gd.dataset.spare;
    delete gd.dataset.step;
    gd.removeAttribute("aria-hidden");
  }
}

// A user's zoom, pan or tool lives in the chart shown: Plotly's update keeps it, a spare would not.
function touched(gd) {
  const layout = gd.layout || {};
  return Boolean(layout.dragmode) || Object.keys(layout).some(
    (k) => /^[xy]axis\d*$/.test(k) && layout[k] && layout[k].autorange === false);
}

function usableSpare(chart, t) {
  if (touched(chart.gd)) return null;
  return chart.spares.find((s) => s.t === t && s.gen === chart.gen && s.width === chart.width
                                          && !s.busy) || null;
}

function showSpare(chart, spare) { // the caller sets chart.valuesT to the spare's step
  const shown = chart.gd;
  hide(spare.gd, false);
  hide(shown, true);
  chart.gd = spare.gd;
  spare.gd = shown; // now the spare of the step just left
  spare.t = chart.valuesT;
  shown.dataset.step = String(spare.t);
}

function dropSpares(chart) {
  for (const s of chart.spares) {
    try {
      window.Plotly.purge(s.gd);
    } catch (e) { /* a spare Plotly never finished drawing: nothing more to remove */ }
    s.gd.remove();
  }
  chart.spares = [];
}

function prepareSoon(chart) {
  clearTimeout(chart.prepareTimer);
  chart.prepareTimer = setTimeout(() => prepareSpare(chart), REST_MS);
}

// Draw one spare at a missing neighbour of the cursor's step, then look again.
async function prepareSpare(chart) {
  const v = chart.values, t = chart.valuesT, base = chart.base;
  if (!v || !base || t === null || chart.busy || chart.valuesBusy || !chart.box.isConnected
      || touched(chart.gd)) return;
  const wanted = [t - 1, t + 1].filter((w) => w >= v.start && w < v.stop);
  const w = wanted.find((step) => !usableSpare(chart, step));
  if (w === undefined) return;
  const current = (s) => s.gen === chart.gen && s.width === chart.width;
  let spare = chart.spares.find((s) => !(current(s) && wanted.includes(s.t)) && !s.busy);
  if (!spare) {
    if (chart.spares.length >= SPARES) return;
    const gd = document.createElement("div");
    hide(gd, true);
    chart.plot.insertBefore(gd, chart.layer || null);
    spare = {gd, t: null, gen: null, width: null};
    chart.spares.push(spare);
  }
  const gen = chart.gen, width = chart.width, Plotly = window.Plotly;
  const ys = valuesAt(v, w);
  const title = valuesTitle(v, w);
  spare.busy = true;
  delete spare.gd.dataset.step;
  spare.gd.style.contain = chart.gd.style.contain;
  spare.gd.style.height = chart.gd.style.height;
  try {
    if (current(spare)) {
      await updateValues(spare.gd, ys, title);
    } else { // a copy of the figure: Plotly writes into the objects it draws
      const data = structuredClone(base.data).map((tr, i) => (i < ys.length ? {...tr, y: ys[i]} : tr));
      const layout = structuredClone(base.layout);
      layout.title = {...(layout.title || {}), text: title};
      await Plotly.react(spare.gd, {data, layout, config: chart.config});
    }
    Object.assign(spare, {t: w, gen, width});
    spare.gd.dataset.step = String(w);
  } catch (e) {
    spare.gen = null; // never shown; the chart shown keeps Plotly's update
  } finally {
    spare.busy = false;
  }
  prepareSoon(chart);
}

// Record, after the next paint, the step this chart shows (bench_browser reads it).
function drawn(chart) {
  if (!follows(chart)) return;
  const t = chart.values ? chart.valuesT : cursorT();
  markStep(chart, t);
  requestAnimationFrame(() => {
    (window.__unrolledCursorDrawn ??= {})[chart.key] = {t, at: performance.now()};
  });
}

function onCursor(chart, event) {
  if (!chart.box.isConnected) { // a chart whose tab was closed: stop listening
    window.removeEventListener(CURSOR_EVENT, chart.listener);
    window.removeEventListener(NEAR_EVENT, chart.listener);
    return;
  }
  if (event.type === NEAR_EVENT) { // about to move: draw the readout's neighbours now
    if (chart.values) prepareSpare(chart);
    return;
  }
  if (!follows(chart) || chart.busy || !chart.gd._fullLayout) return; // a draw places it when done
  placeCursor(chart);
  if (chart.values) moveValues(chart);
  else drawn(chart);
}

function message(chart, text) {
  chart.note.textContent = text;
  chart.note.style.display = text ? "block" : "none";
}

// A chart that cannot show its new figure shows only the reason: never the previous figure
// under new controls, never a half-drawn one.
function fail(chart, text) {
  message(chart, text);
  try {
    if (window.Plotly) window.Plotly.purge(chart.gd);
  } catch (e) { /* purging a chart Plotly never finished: nothing more to remove */ }
  chart.gd.replaceChildren();
  dropSpares(chart);
}

// Fullscreen: the chart fills the screen at the screen's size, and returns to its own on exit.
function fullscreenSize(chart) {
  return document.fullscreenElement === chart.box
    ? {width: window.innerWidth, height: window.innerHeight} : null;
}

function makeChart(parent) {
  const box = document.createElement("div");
  box.className = "unrolled-chart";
  // A keyboard stop named by the chart's title (draw sets it): the keyboard reaches every chart and
  // a screen reader says which one it is.
  box.tabIndex = 0;
  box.setAttribute("role", "figure");
  box.style.background = "var(--st-background-color, #fff)";
  const note = document.createElement("div");
  note.setAttribute("role", "alert");
  note.className = "unrolled-chart-error";
  note.style.cssText = "display:none;padding:0.75rem 1rem;border-radius:0.5rem;"
    + "background:var(--st-red-background-color, #fde0e0);color:var(--st-red-text-color, #7d1a1a)";
  const gd = document.createElement("div");
  const plot = document.createElement("div"); // the figure and, over it, the cursor lines
  plot.style.position = "relative";
  plot.appendChild(gd);
  box.append(note, plot);
  parent.appendChild(box);
  const chart = {box, note, gd, plot, configKey: null, config: null, next: null, busy: false, width: 0,
                 cursor: null, values: null, valuesT: null, key: "", gen: 0, spares: [],
                 base: null, prepareTimer: null};
  chart.listener = (event) => onCursor(chart, event);
  window.addEventListener(CURSOR_EVENT, chart.listener);
  window.addEventListener(NEAR_EVENT, chart.listener);
  const toggle = () => (document.fullscreenElement ? document.exitFullscreen() : box.requestFullscreen());
  const button = (on) => ({name: on ? "Close fullscreen" : "Fullscreen",
                           title: on ? "Close fullscreen" : "Fullscreen", icon: on ? COLLAPSE : EXPAND,
                           click: toggle});
  chart.fullscreen = button(false);
  box.addEventListener("fullscreenchange", () => {
    // a new button in a new config: the toolbar shows its new title and icon
    chart.fullscreen = button(document.fullscreenElement === box);
    chart.configKey = null;
    if (chart.last) schedule(chart, chart.last);
  });
  // A narrower or wider column (sidebar opened or closed, window resized): fit the new width.
  new ResizeObserver(() => {
    const width = box.clientWidth;
    if (window.Plotly && gd._fullLayout && width && width !== chart.width && !chart.busy) {
      chart.width = width;
      window.Plotly.Plots.resize(gd);
    }
  }).observe(box);
  return chart;
}

// The camera of a chart that follows the cursor: the image Plotly renders apart must carry the
// cursor lines, which on screen are not Plotly's.
function cursorCamera(chart, Plotly, config) {
  const format = (config.toImageButtonOptions || {}).format || "png";
  const title = `Download plot as a${format === "svg" ? "n" : ""} ${format}`; // Plotly's own words
  return {name: "toImage", title, icon: Plotly.Icons.camera, click: (gd) => {
    const fl = gd._fullLayout;
    const layout = {...gd.layout, width: fl.width, height: fl.height,
                    shapes: [...(gd.layout.shapes || []), ...cursorShapes(chart, cursorT())]};
    const opts = (chart.config && chart.config.toImageButtonOptions) || {};
    Plotly.downloadImage({data: gd.data, layout}, {format: "png", filename: "newplot", ...opts,
                                                   width: fl.width, height: fl.height});
  }};
}

function plotConfig(chart, config, Plotly) {
  // The same config object while nothing in it changes: a new one makes Plotly.react redraw from
  // scratch; the fullscreen button keeps one click function for the chart's life for that reason.
  const follows = Boolean(chart.cursor && chart.cursor.length);
  const configKey = JSON.stringify(config) + follows;
  if (configKey !== chart.configKey) {
    chart.configKey = configKey;
    // no upload-to-Plotly-Cloud button (plotly.js shows one by default), no selection tools
    const add = follows ? [cursorCamera(chart, Plotly, config), chart.fullscreen] : [chart.fullscreen];
    const remove = ["lasso2d", "select2d", "sendChartToCloud", ...(follows ? ["toImage"] : [])];
    chart.config = {...config, showSendToCloud: false, modeBarButtonsToAdd: add,
                    modeBarButtonsToRemove: remove};
  }
  return chart.config;
}

async function draw(chart, payload) {
  const Plotly = await loadPlotly();
  const figure = payload.figure;
  const layout = {...figure.layout, autosize: true};
  const template = layout.template || {};
  const base = template.layout || {};
  const theme = themeLayout(chart.box);
  layout.template = {...template, layout: {...base, ...theme,
                                           font: {...(base.font || {}), ...theme.font},
                                           xaxis: {...(base.xaxis || {}), ...theme.xaxis},
                                           yaxis: {...(base.yaxis || {}), ...theme.yaxis}}};
  const size = fullscreenSize(chart);
  if (size) Object.assign(layout, size);
  // Layout containment at the figure's own height: Plotly measures its text many times while it
  // draws, and each measure lays out only the chart instead of the whole page
  const height = size ? size.height : layout.height || (template.layout || {}).height;
  chart.gd.style.contain = height ? "strict" : "";
  chart.gd.style.height = height ? `${height}px` : "";
  chart.key = payload.key;
  chart.box.setAttribute("aria-label", plainText((layout.title || {}).text));
  chart.cursor = payload.cursor || null;
  chart.values = payload.values || null;
  let data = figure.data;
  chart.gen += 1; // every spare drawn before is stale
  chart.base = chart.values ? {data: structuredClone(figure.data), layout: structuredClone(layout)} : null;
  if (chart.values) { // the readout at the cursor's step, if the window holds it
    const v = chart.values;
    const head = `${v.title}${v.start}${stepName(v, v.start)}`; // the figure is drawn at start
    const text = String((layout.title || {}).text || "");
    v.suffix = text.startsWith(head) ? text.slice(head.length) : "";
    const t = cursorT();
    const ys = valuesAt(chart.values, t);
    chart.valuesT = ys ? t : null;
    if (ys) {
      data = data.map((tr, i) => (i < ys.length ? {...tr, y: ys[i]} : tr));
      layout.title = {...(layout.title || {}), text: valuesTitle(chart.values, t)};
    }
    chart.gd.style.opacity = ys || t === null ? "" : "0.35";
  }
  // the one-object form: it also carries animation frames (the Animate views)
  await Plotly.react(chart.gd, {data, layout, frames: figure.frames,
                                config: plotConfig(chart, payload.config, Plotly)});
  chart.width = chart.box.clientWidth;
  if (!chart.gd.__watched) { // zoom, pan and resize move the axes: the cursor lines follow
    chart.gd.__watched = true;
    chart.gd.on("plotly_afterplot", () => placeCursor(chart));
  }
  placeCursor(chart);
  if (!chart.values) dropSpares(chart);
  else if (chart.spares.length) prepareSoon(chart); // the cursor is in use: draw ahead again
}

// A payload's window of values: typed arrays decoded once, with the number of units per step.
function readValues(v) {
  if (!v) return null;
  const y = v.y.map(typed);
  const rows = v.stop - v.start;
  return {...v, y, units: rows > 0 ? y[0].length / rows : 0};
}

// Draw the newest figure only: updates that arrive while one is being drawn replace each other.
function schedule(chart, payload) {
  chart.next = payload;
  chart.last = payload;
  if (chart.busy) return;
  chart.busy = true;
  (async () => {
    while (chart.next) {
      const p = chart.next;
      chart.next = null;
      try {
        await draw(chart, p);
        message(chart, "");
      } catch (e) {
        fail(chart, `This chart could not be drawn: ${e && e.message ? e.message : e}. `
          + "Reload the page; if it persists, start the dashboard with `python3 dev.py app`.");
      }
    }
    chart.busy = false;
    if (chart.values && cursorT() !== chart.valuesT) moveValues(chart); // moved while drawing
    else drawn(chart);
  })();
}

// Whether two payloads are the same bytes (the server's redraw after a time cursor move sends the
// same figures: ui/cursor.py), so that nothing is decoded or drawn again.
function same(a, b) {
  if (a === b) return true;
  if (typeof a === "string" || typeof b === "string" || !a || !b) return false;
  const x = a instanceof ArrayBuffer ? new Uint8Array(a) : a;
  const y = b instanceof ArrayBuffer ? new Uint8Array(b) : b;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export default function (component) {
  const {data, parentElement} = component;
  parentElement.__unrolledChart ??= makeChart(parentElement);
  const chart = parentElement.__unrolledChart;
  if (chart.last && !chart.note.textContent && same(chart.raw, data)) return;
  chart.raw = data;
  try {
    const payload = decode(data);
    payload.values = readValues(payload.values);
    schedule(chart, payload);
  } catch (e) {
    fail(chart, `This chart's data could not be read: ${e.message}`);
  }
}
