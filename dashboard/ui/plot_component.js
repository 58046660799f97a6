// Unrolled's chart element (see plot_component.py for why it exists): draws a Plotly figure once,
// then redraws the same chart in place with one Plotly.react call per update.

const PLOTLY_URL = "app/static/plotly.min.js"; // Streamlit's static file serving (plot_component.py)
const EXPAND = {width: 512, height: 512, path: "M32 32h160v64H96v96H32V32zm288 0h160v160h-64V96h-96V32zM32 320h64v96h96v64H32V320zm416 0h64v160H320v-64h96v-96z"};
const COLLAPSE = {width: 512, height: 512, path: "M128 32h64v160H32v-64h96V32zm192 0h64v96h96v64H320V32zM32 320h160v160h-64v-96H32v-64zm288 0h160v64h-96v96h-64V320z"};

// One script tag per page, shared by every chart; a failed load is retried by the next draw.
function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__unrolledPlotly) {
    window.__unrolledPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL(PLOTLY_URL, document.baseURI).href;
      script.onload = () => (window.Plotly ? resolve(window.Plotly)
        : reject(new Error(`${script.src} defined no Plotly`)));
      script.onerror = () => {
        window.__unrolledPlotly = null;
        script.remove();
        reject(new Error(`could not load ${script.src}`));
      };
      document.head.appendChild(script);
    });
  }
  return window.__unrolledPlotly;
}

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

function decode(data) {
  if (typeof data === "string") return JSON.parse(data);
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  return JSON.parse(new TextDecoder().decode(bytes));
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
}

// Fullscreen: the chart fills the screen at the screen's size, and returns to its own on exit.
function fullscreenSize(chart) {
  return document.fullscreenElement === chart.box
    ? {width: window.innerWidth, height: window.innerHeight} : null;
}

function makeChart(parent) {
  const box = document.createElement("div");
  box.className = "unrolled-chart";
  box.style.background = "var(--st-background-color, #fff)";
  const note = document.createElement("div");
  note.setAttribute("role", "alert");
  note.className = "unrolled-chart-error";
  note.style.cssText = "display:none;padding:0.75rem 1rem;border-radius:0.5rem;"
    + "background:var(--st-red-background-color, #fde0e0);color:var(--st-red-text-color, #7d1a1a)";
  const gd = document.createElement("div");
  box.append(note, gd);
  parent.appendChild(box);
  const chart = {box, note, gd, configKey: null, config: null, next: null, busy: false, width: 0};
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

function plotConfig(chart, config) {
  // The same config object while nothing in it changes: a new one makes Plotly.react redraw from
  // scratch; the fullscreen button keeps one click function for the chart's life for that reason.
  const configKey = JSON.stringify(config);
  if (configKey !== chart.configKey) {
    chart.configKey = configKey;
    // no upload-to-Plotly-Cloud button (plotly.js shows one by default), no selection tools
    chart.config = {...config, showSendToCloud: false, modeBarButtonsToAdd: [chart.fullscreen],
                    modeBarButtonsToRemove: ["lasso2d", "select2d", "sendChartToCloud"]};
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
                                           font: {...(base.font || {}), ...theme.font}}};
  const size = fullscreenSize(chart);
  if (size) Object.assign(layout, size);
  // the one-object form: it also carries animation frames (the Animate views)
  await Plotly.react(chart.gd, {data: figure.data, layout, frames: figure.frames,
                                config: plotConfig(chart, payload.config)});
  chart.width = chart.box.clientWidth;
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
  })();
}

export default function (component) {
  const {data, parentElement} = component;
  parentElement.__unrolledChart ??= makeChart(parentElement);
  const chart = parentElement.__unrolledChart;
  try {
    schedule(chart, decode(data));
  } catch (e) {
    fail(chart, `This chart's data could not be read: ${e.message}`);
  }
}
