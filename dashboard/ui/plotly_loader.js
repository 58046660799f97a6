// plotly.js for the charts, loaded once per page: the loader that plot_component.js and
// plotly_preload.js both begin with (ui/plot_component.py and ui/startup.py join the files).
//
// It comes as plotly.min.js.zip, made once at start-up (ui/startup.py) and sent as it is on disk:
// Streamlit's server gzips a plain .js file of the app anew for every page (its 4.8 MB took 0.25 s
// of the server's CPU when idle, 1-1.5 s while the first page imports torch, and the charts waited
// for it), while Starlette sends a zip file untouched, in a third of the bytes. The browser inflates
// it (DecompressionStream). Where that fails (a browser without it, a policy that blocks blob:
// scripts), the plain plotly.min.js is loaded instead. All charts share one promise,
// window.__unrolledPlotly; a failed load clears it, so the next chart's draw tries again.

const PLOTLY_ZIP = "app/static/plotly.min.js.zip"; // Streamlit's static file serving (startup.py)
const PLOTLY_PLAIN = "app/static/plotly.min.js";

function absolute(path) {
  return new URL(path, document.baseURI).href;
}

// The one file of a zip archive as text: its local header (PKZIP APPNOTE 4.3.7) says where the
// deflated bytes are and how many; a data descriptor or another method is not what startup.py
// writes, so it is refused (and the plain file is loaded).
async function unzipText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const head = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 30 || head.getUint32(0, true) !== 0x04034b50) throw new Error(`${url}: not a zip`);
  const flags = head.getUint16(6, true), method = head.getUint16(8, true);
  if (flags & 0x8 || method !== 8) throw new Error(`${url}: not one deflated file with its sizes`);
  const start = 30 + head.getUint16(26, true) + head.getUint16(28, true);
  const data = bytes.subarray(start, start + head.getUint32(18, true));
  const inflated = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Response(inflated).text();
}

// A script tag for src; resolves with window.Plotly once it ran.
function runScript(src, name) {
  return new Promise((resolve, reject) => {
    const tag = document.createElement("script");
    tag.dataset.unrolledPlotly = name; // what the browser tests count
    tag.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error(`${name} defined no Plotly`)));
    tag.onerror = () => {
      tag.remove();
      reject(new Error(`could not load ${name}`));
    };
    tag.src = src;
    document.head.appendChild(tag);
  });
}

async function fetchPlotly() {
  let text = null;
  try {
    text = await unzipText(absolute(PLOTLY_ZIP));
  } catch (e) { /* no zip, or no DecompressionStream: the plain file below */ }
  if (text !== null) {
    const blob = URL.createObjectURL(new Blob([text], {type: "text/javascript"}));
    try {
      return await runScript(blob, PLOTLY_ZIP);
    } catch (e) { /* a blob: script refused: the plain file below */ } finally {
      URL.revokeObjectURL(blob);
    }
  }
  return runScript(absolute(PLOTLY_PLAIN), PLOTLY_PLAIN);
}

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__unrolledPlotly) {
    const loading = fetchPlotly();
    window.__unrolledPlotly = loading;
    loading.catch(() => { // reported by the chart that waits for it; the next draw retries
      if (window.__unrolledPlotly === loading) window.__unrolledPlotly = null;
    });
  }
  return window.__unrolledPlotly;
}
