// cie stack viewer: loads one series over DICOMweb (QIDO/WADO-RS /metadata and
// frames) and shows it in a cornerstone3D stack viewport with scroll,
// window/level, zoom and pan.
//
// Parameters come from data attributes of #viewer, which the Go handler fills
// (internal/viewer); when they are not filled in (vite dev server) the query
// parameters dicomweb, study, series, token and back are used instead.
//
// State for people and tests: #viewer[data-state] is "loading", "ready" or
// "error"; data-index (1-based) and data-count give the slice; data-ww and
// data-wc the window; data-rendered counts rendered frames.
import './viewer.css';
import {
  init as coreInit,
  RenderingEngine,
  Enums,
  eventTarget,
} from '@cornerstonejs/core';
import { init as loaderInit, wadors } from '@cornerstonejs/dicom-image-loader';
import {
  init as toolsInit,
  addTool,
  ToolGroupManager,
  WindowLevelTool,
  PanTool,
  ZoomTool,
  StackScrollTool,
  Enums as ToolEnums,
} from '@cornerstonejs/tools';
import { stack, seriesURL, value, T, CT_PRESETS } from './series.js';

const root = document.getElementById('viewer');
const $ = (id) => document.getElementById(id);

// param reads a page parameter from #viewer's data attributes. Only when the
// page is not rendered by Go (vite dev server: the attribute still holds the
// template action) does it fall back to the query, so a link can never slip
// a token or another server into a page that Go rendered.
function param(name) {
  const v = root.dataset[name] ?? '';
  if (!v.startsWith('{{')) return v;
  return new URLSearchParams(location.search).get(name) || '';
}

const cfg = {
  dicomweb: param('dicomweb'),
  study: param('study'),
  series: param('series'),
  token: param('token'),
  back: param('back'),
};

let failed = false;
function showError(title, detail) {
  failed = true;
  root.dataset.state = 'error';
  const box = $('error');
  box.replaceChildren();
  const s = document.createElement('strong');
  s.textContent = title;
  box.append(s, document.createTextNode(detail || ''));
  box.hidden = false;
  if (!root.dataset.count) $('series-title').textContent = 'Series not shown';
}

// A frame that fails after the first render is reported without hiding the
// image: the message names the slice.
function showWarning(text) {
  const box = $('error');
  box.replaceChildren(document.createTextNode(text));
  box.hidden = false;
  root.dataset.warning = text;
}

function authHeaders() {
  return cfg.token ? { Authorization: `Bearer ${cfg.token}` } : {};
}

async function fetchMetadata(url) {
  let res;
  try {
    res = await fetch(url, { headers: { Accept: 'application/dicom+json, application/json', ...authHeaders() }, credentials: 'same-origin' });
  } catch (e) {
    throw new Error(`${url}: ${e.message || e}`);
  }
  if (!res.ok) {
    let body = '';
    try { body = (await res.text()).replace(/\s+/g, ' ').trim().slice(0, 240); } catch { /* ignore */ }
    throw new Error(`${url}: HTTP ${res.status} ${res.statusText}${body ? `\n${body}` : ''}`);
  }
  try {
    return await res.json();
  } catch (e) {
    throw new Error(`${url}: the answer is not JSON (${e.message})`);
  }
}

const fmt = (x) => (Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 10) / 10);

function main() {
  if (cfg.back) { $('back').href = cfg.back; $('back').hidden = false; }
  const missing = ['dicomweb', 'study', 'series'].filter((k) => !cfg[k]);
  if (missing.length) {
    showError('The viewer was opened without a series.', `Missing parameter(s): ${missing.join(', ')}.`);
    return;
  }
  // Resolve the base against the page so image IDs are absolute URLs.
  const base = new URL(cfg.dicomweb, location.href).href;
  start(base).catch((e) => {
    console.error(e);
    showError('The series could not be shown.', String(e && e.message ? e.message : e));
  });
}

async function start(base) {
  coreInit();
  loaderInit({
    maxWebWorkers: Math.max(1, Math.min(4, Math.floor((navigator.hardwareConcurrency || 2) / 2))),
    beforeSend: () => authHeaders(),
  });
  toolsInit();

  const metaURL = `${seriesURL(base, cfg.study, cfg.series)}/metadata`;
  const meta = await fetchMetadata(metaURL);
  const frames = stack(meta, base, cfg.study, cfg.series);
  for (const f of frames) if (f.frame === 1) wadors.metaDataManager.add(f.imageId, f.instance);
  const imageIds = frames.map((f) => f.imageId);
  const first = frames[0].instance;

  const modality = value(first, T.Modality) || '';
  const desc = value(first, T.SeriesDescription) || '';
  const num = value(first, T.SeriesNumber);
  $('series-title').textContent = [modality, num !== undefined ? `#${num}` : '', desc].filter(Boolean).join(' ') || 'Series';
  $('series-sub').textContent = `${imageIds.length} image${imageIds.length === 1 ? '' : 's'} · ${cfg.series}`;
  root.dataset.count = String(imageIds.length);
  if (modality === 'CT') {
    const host = $('ct-presets');
    for (const [label, w, c] of CT_PRESETS) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.preset = label.toLowerCase().replace(/\s+/g, '-');
      b.dataset.ww = String(w);
      b.dataset.wc = String(c);
      b.title = `W ${w} L ${c}`;
      b.textContent = label;
      host.append(b);
    }
  }

  const element = $('viewport');
  element.addEventListener('contextmenu', (e) => e.preventDefault()); // right-drag zooms
  const engine = new RenderingEngine('cie-viewer');
  const viewportId = 'stack';
  engine.enableElement({
    viewportId,
    type: Enums.ViewportType.STACK,
    element,
    defaultOptions: { background: [0, 0, 0] },
  });
  const viewport = engine.getViewport(viewportId);

  // Tools: left drag = chosen tool (W/L at start), middle = pan, right = zoom, wheel = scroll.
  for (const t of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool]) addTool(t);
  const group = ToolGroupManager.createToolGroup('cie-viewer');
  for (const t of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool]) group.addTool(t.toolName);
  group.addViewport(viewportId, engine.id);
  const { MouseBindings } = ToolEnums;
  const left = { WindowLevel: WindowLevelTool.toolName, Pan: PanTool.toolName, Zoom: ZoomTool.toolName };
  function setLeftTool(name) {
    const bindings = {
      [WindowLevelTool.toolName]: [],
      [PanTool.toolName]: [{ mouseButton: MouseBindings.Auxiliary }],
      [ZoomTool.toolName]: [{ mouseButton: MouseBindings.Secondary }],
    };
    bindings[left[name]].push({ mouseButton: MouseBindings.Primary });
    for (const [tool, b] of Object.entries(bindings)) {
      if (b.length) group.setToolActive(tool, { bindings: b });
      else group.setToolPassive(tool);
    }
    for (const btn of document.querySelectorAll('[data-tool]')) {
      const on = btn.dataset.tool === name;
      btn.classList.toggle('active', on);
      btn.setAttribute('aria-pressed', String(on));
    }
    root.dataset.tool = name;
  }
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  setLeftTool('WindowLevel');

  const slider = $('slider');
  slider.max = String(imageIds.length);
  slider.disabled = imageIds.length < 2;

  function showIndex() {
    const i = viewport.getCurrentImageIdIndex();
    $('slice').textContent = `Slice ${i + 1} / ${imageIds.length}`;
    slider.value = String(i + 1);
    root.dataset.index = String(i + 1);
  }
  function showVOI() {
    const { voiRange } = viewport.getProperties();
    if (!voiRange) return;
    const w = voiRange.upper - voiRange.lower;
    const c = (voiRange.upper + voiRange.lower) / 2;
    $('wl').textContent = `W ${fmt(w)} L ${fmt(c)}`;
    root.dataset.ww = String(fmt(w));
    root.dataset.wc = String(fmt(c));
  }
  function showZoom() {
    try {
      const z = viewport.getZoom();
      if (Number.isFinite(z)) $('zoom').textContent = `Zoom ${Math.round(z * 100)}%`;
    } catch { /* not every backend reports zoom before the first render */ }
  }

  // shown: an image of the series is in the viewport (renders before that
  // are of the empty viewport and do not make the viewer "ready").
  let rendered = 0;
  let shown = false;
  element.addEventListener(Enums.Events.STACK_NEW_IMAGE, () => { shown = true; showIndex(); });
  element.addEventListener(Enums.Events.VOI_MODIFIED, showVOI);
  element.addEventListener(Enums.Events.CAMERA_MODIFIED, showZoom);
  element.addEventListener(Enums.Events.IMAGE_RENDERED, () => {
    if (!shown) return;
    rendered++;
    root.dataset.rendered = String(rendered);
    showIndex();
    showVOI();
    showZoom();
    if (!failed) root.dataset.state = 'ready';
  });
  const onLoadFail = (evt) => {
    const d = evt.detail || {};
    const i = imageIds.indexOf(d.imageId);
    const e = d.error || {};
    const why = e.status ? `HTTP ${e.status} ${e.statusText || ''}`.trim() : e.message || String(d.error || 'unknown error');
    const msg = `Slice ${i >= 0 ? i + 1 : '?'} could not be loaded: ${why}`;
    console.error(msg, d);
    if (!shown) showError('The series could not be shown.', msg);
    else showWarning(msg);
  };
  eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_FAILED, onLoadFail);
  eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_ERROR, onLoadFail);

  function scrollBy(delta) {
    const n = imageIds.length;
    const i = Math.min(n - 1, Math.max(0, viewport.getCurrentImageIdIndex() + delta));
    return viewport.setImageIdIndex(i);
  }
  slider.addEventListener('input', () => viewport.setImageIdIndex(Number(slider.value) - 1));

  function setWindow(w, c) {
    viewport.setProperties({ voiRange: { lower: c - w / 2, upper: c + w / 2 } });
    viewport.render();
    showVOI();
  }
  function defaultWindow() {
    viewport.resetProperties();
    viewport.render();
    showVOI();
  }
  function reset() {
    viewport.resetCamera();
    viewport.resetProperties();
    viewport.render();
    showVOI();
    showZoom();
  }
  document.querySelector('.bar').addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    if (b.dataset.tool) setLeftTool(b.dataset.tool);
    else if (b.dataset.preset === 'default') defaultWindow();
    else if (b.dataset.ww) setWindow(Number(b.dataset.ww), Number(b.dataset.wc));
    else if (b.id === 'reset') reset();
  });
  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement && e.target.type !== 'range') return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const n = imageIds.length;
    const keys = {
      ArrowUp: () => scrollBy(-1), ArrowLeft: () => scrollBy(-1),
      ArrowDown: () => scrollBy(1), ArrowRight: () => scrollBy(1),
      PageUp: () => scrollBy(-10), PageDown: () => scrollBy(10),
      Home: () => viewport.setImageIdIndex(0), End: () => viewport.setImageIdIndex(n - 1),
      r: reset, R: reset, 0: defaultWindow,
      w: () => setLeftTool('WindowLevel'), p: () => setLeftTool('Pan'), z: () => setLeftTool('Zoom'),
    };
    CT_PRESETS.forEach(([, w, c], k) => { if (modality === 'CT') keys[String(k + 1)] = () => setWindow(w, c); });
    const f = keys[e.key];
    if (!f) return;
    e.preventDefault();
    f();
  });
  new ResizeObserver(() => engine.resize(true, false)).observe(element);

  await viewport.setStack(imageIds, 0);
  viewport.render();
  element.focus();
}

main();
