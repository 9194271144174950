// Browser test of the end of access negotiation against a running `cie demo`: a
// researcher asks for a node's CT dataset with the download access model, its data holder
// makes it available, and the researcher opens the dataset's images page from the
// request, views a CT series in the viewer through the hub's relay (the image is not
// blank) and downloads a study as a ZIP. Needs CIE_DEMO_JSON; screenshots go to
// CIE_SCREENSHOTS (default ./screenshots).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { demo, shots, browser } from './lib.mjs';

async function login(page, user, next) {
  await page.goto(demo.hub.url + '/login?next=' + encodeURIComponent(next));
  await page.fill('input[name=username]', user.name);
  await page.fill('input[name=password]', user.password);
  await Promise.all([page.waitForURL((u) => u.pathname === next), page.click('button[type=submit]')]);
}

// canvasStats are luminance statistics of the viewer's canvas.
async function canvasStats(page) {
  return page.$eval('#viewport canvas', (c) => {
    const ctx = c.getContext('2d');
    if (!ctx) return { error: 'the viewport canvas has no 2D context' };
    const { data, width, height } = ctx.getImageData(0, 0, c.width, c.height);
    const levels = new Set();
    let sum = 0, sum2 = 0;
    for (let i = 0; i < data.length; i += 4) {
      const v = Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]);
      levels.add(v); sum += v; sum2 += v * v;
    }
    const n = width * height, mean = sum / n;
    return { width, height, distinct: levels.size, sd: Math.sqrt(sum2 / n - mean * mean) };
  });
}

test('after approval the researcher views a CT series and downloads a study as a ZIP', async () => {
  const researcher = demo.users.find((u) => u.role === 'researcher');
  const node = demo.nodes[0].name;
  const holder = demo.users.find((u) => u.role === 'data_holder' && u.node === node);
  // The node's CT dataset, from the public catalogue.
  const cat = await (await fetch(demo.hub.url + '/api/v1/catalogue', { headers: { Accept: 'application/json' } })).json();
  const list = Array.isArray(cat) ? cat : cat.datasets;
  const ds = list.find((d) => d.node === node && /^CT studies/.test(d.title));
  assert.ok(ds, `no CT dataset of ${node} in the catalogue`);
  const title = 'CT download ' + Date.now();
  const b = await browser();
  try {
    // The researcher asks for the dataset, to download.
    const r = await (await b.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await login(r, researcher, '/catalogue');
    await r.goto(demo.hub.url + '/catalogue/' + encodeURIComponent(ds.id));
    await Promise.all([r.waitForLoadState('load'), r.click('#add-to-basket button')]);
    await r.click('#basket-link');
    await r.waitForSelector(`#basket tr[data-dataset="${ds.id}"]`);
    await r.fill('#title', title);
    await r.fill('#description', 'Validate a lung nodule detector on CT.');
    await r.fill('#purpose', 'Academic research.');
    await r.check('input[name=model][value=download]');
    await Promise.all([r.waitForURL(/\/requests\/req-/), r.click('#submit-request')]);
    const requestURL = r.url();
    // Nothing to browse yet.
    assert.equal(await r.locator(`#parts tr[data-dataset="${ds.id}"] .images-link`).count(), 0);

    // Its data holder makes it available.
    const h = await (await b.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await login(h, holder, '/requests');
    await h.goto(requestURL);
    await Promise.all([h.waitForURL(/done=moved/),
      h.locator(`#parts tr[data-dataset="${ds.id}"] button[value=resource_made_available]`).click()]);

    // The researcher opens the images from the request page.
    await r.goto(requestURL);
    await Promise.all([r.waitForURL(/\/images\//), r.locator(`#parts tr[data-dataset="${ds.id}"] .images-link`).click()]);
    await r.waitForSelector('#studies .study');
    assert.equal((await r.textContent('#visa-state')).trim(), 'valid');
    assert.equal((await r.textContent('#visa-access')).trim(), 'download');
    assert.equal(await r.locator('#images-error').count(), 0);
    await r.screenshot({ path: join(shots, 'granted-1-images.png') });

    // A study as a ZIP, through the relay, with the session.
    const href = await r.locator('#studies .study a.download').first().getAttribute('href');
    assert.match(href, new RegExp(`^/nodes/${node}/dicomweb/studies/[0-9.]+\\?accept=application%2Fzip$`));
    const zip = await r.evaluate(async (u) => {
      const resp = await fetch(u);
      const buf = new Uint8Array(await resp.arrayBuffer());
      // The end of central directory record: PK\x05\x06, and the number of entries.
      let eocd = -1;
      for (let i = buf.length - 22; i >= 0 && i >= buf.length - 22 - 65535; i--) {
        if (buf[i] === 0x50 && buf[i + 1] === 0x4b && buf[i + 2] === 5 && buf[i + 3] === 6) { eocd = i; break; }
      }
      return { status: resp.status, type: resp.headers.get('content-type'), disposition: resp.headers.get('content-disposition'),
        magic: Array.from(buf.slice(0, 4)), size: buf.length, entries: eocd < 0 ? -1 : buf[eocd + 10] | (buf[eocd + 11] << 8) };
    }, href);
    assert.equal(zip.status, 200);
    assert.equal(zip.type, 'application/zip');
    assert.match(zip.disposition, /^attachment; filename="study-[0-9.]+\.zip"$/);
    assert.deepEqual(zip.magic, [0x50, 0x4b, 0x03, 0x04]);
    assert.ok(zip.entries > 0, `ZIP of ${zip.size} bytes has ${zip.entries} entries`);

    // View a CT series: the viewer reads the node's DICOMweb through the hub's relay.
    const ct = r.locator('#studies .series[data-modality="CT"] a.view').first();
    await Promise.all([r.waitForURL(/\/viewer\//), ct.click()]);
    await r.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('viewer')?.dataset.state), null, { timeout: 60000 });
    const state = await r.$eval('#viewer', (el) => ({ ...el.dataset }));
    assert.equal(state.state, 'ready', `viewer: ${await r.textContent('#error')}`);
    assert.match(new URL(r.url()).searchParams.get('dicomweb'), new RegExp(`^/nodes/${node}/dicomweb$`));
    await r.waitForTimeout(500); // let the first frame settle
    const px = await canvasStats(r);
    assert.ok(!px.error, px.error);
    assert.ok(px.width > 100 && px.height > 100, `canvas ${px.width}x${px.height}`);
    assert.ok(px.distinct >= 16 && px.sd > 5, `the image is (nearly) blank: ${px.distinct} grey levels, sd ${px.sd.toFixed(1)}`);
    await r.screenshot({ path: join(shots, 'granted-2-viewer.png') });

    // The passport links to the same page.
    await r.goto(demo.hub.url + '/passport');
    await r.locator(`#visas tr[data-dataset="${ds.id}"] .images-link`).first().waitFor();
  } finally {
    await b.close();
  }
});
