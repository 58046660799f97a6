// A hidden element sent before the server imports torch and the engine (ui/startup.py): the browser
// fetches and parses plotly.js meanwhile. It leaves the same promise the charts' loadPlotly
// (plot_component.js) makes, window.__unrolledPlotly, so a chart that arrives while it still loads
// waits for this one script tag; a failed load clears it and the chart's own load retries.

export default function () {
  if (window.Plotly || window.__unrolledPlotly) return;
  const tag = document.createElement("script");
  tag.src = new URL("app/static/plotly.min.js", document.baseURI).href;
  const loading = new Promise((resolve, reject) => {
    tag.addEventListener("load", () => (window.Plotly ? resolve(window.Plotly)
      : reject(new Error(`${tag.src} defined no Plotly`))));
    tag.addEventListener("error", () => {
      window.__unrolledPlotly = null;
      tag.remove();
      reject(new Error(`could not load ${tag.src}`));
    });
  });
  loading.catch(() => {}); // reported by the chart that waits for it
  window.__unrolledPlotly = loading;
  document.head.appendChild(tag);
}
