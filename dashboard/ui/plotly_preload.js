// A hidden element sent before the server imports torch and the engine (ui/startup.py): the browser
// fetches and parses plotly.js meanwhile. plotly_loader.js comes before this file (startup.py joins
// them): its loadPlotly leaves the promise the charts' own loadPlotly waits for, so plotly.js is
// fetched once per page.

export default function () {
  loadPlotly().catch(() => {}); // a failure is reported by the chart that waits for it
}
