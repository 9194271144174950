// Browser test of a node's Archive page and its viewer against a running `cie demo`
// (whose nodes were filled with generated data over C-STORE). Needs CIE_DEMO_JSON;
// writes screenshots to CIE_SCREENSHOTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { demo, shots, browser } from './lib.mjs';

const pydicom = '/usr/lib/python3/dist-packages/pydicom/data/test_files';

async function login(page, node, user) {
  await page.goto(node.url + '/login?next=/archive');
  await page.fill('input[name=username]', user.name);
  await page.fill('input[name=password]', user.password);
  await Promise.all([page.waitForURL('**/archive'), page.click('button[type=submit]')]);
}

test('a data holder sees the archive, uploads files, releases and deletes quarantined ones', async () => {
  const node = demo.nodes[0];
  const holder = demo.users.find((u) => u.name === `${node.name}-holder`);
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 1000 } });
    await login(page, node, holder);
    const count = async (what) => Number((await page.textContent(`[data-count=${what}]`)).replace(/\D/g, ''));
    const before = await count('instances');
    assert.ok(before > 100, `the demo node holds ${before} instances`);
    assert.ok(await count('studies') > 10, 'studies');
    assert.match(await page.textContent('main'), /DIMSE C-STORE/);
    await page.screenshot({ path: join(shots, 'archive.png'), fullPage: true });

    // Upload a CT (stored) and two secondary captures (quarantined: no pixel-cleaning rule).
    const files = ['CT_small.dcm', 'SC_rgb_rle.dcm', 'SC_rgb_small_odd.dcm'].map((f) => join(pydicom, f));
    for (const f of files) assert.ok(existsSync(f), `${f} (Debian python3-pydicom)`);
    await page.setInputFiles('#upload-form input[type=file]', files);
    await Promise.all([page.waitForSelector('#upload-result'), page.click('#upload-form button[type=submit]')]);
    const result = await page.textContent('#upload-result');
    assert.match(result, /3 files: 1 stored.*2 quarantined/s);
    assert.match(result, /no-pixel-cleaning-rule/);
    // A demo run again already holds the CT from the last run: stored once.
    const afterUpload = before + (/already there/.test(result) ? 0 : 1);
    assert.equal(await count('instances'), afterUpload);
    await page.screenshot({ path: join(shots, 'archive-upload.png'), fullPage: true });

    // Release one quarantined file, delete the other.
    const rows = page.locator('#quarantine tr[data-reason="no-pixel-cleaning-rule"]');
    const n = await rows.count();
    assert.ok(n >= 2, `${n} quarantined rows`);
    await Promise.all([page.waitForURL(/done=/), rows.first().locator('button', { hasText: 'Release' }).click()]);
    assert.match(await page.textContent('#archive-message'), /Released .*stored as instance 2\.25\./);
    const afterRelease = await count('instances');
    assert.ok(afterRelease === afterUpload + 1 || afterRelease === afterUpload, `${afterRelease} instances after the release`);
    await Promise.all([page.waitForURL(/done=/), page.locator('#quarantine tr[data-reason="no-pixel-cleaning-rule"]').first().locator('button', { hasText: 'Delete' }).click()]);
    assert.match(await page.textContent('#archive-message'), /Deleted/);
    assert.equal(await page.locator('#quarantine tr[data-reason="no-pixel-cleaning-rule"]').count(), n - 2);

    // The demo's datasets: verify one, then withdraw it and bring it back.
    await page.goto(node.url + '/datasets');
    const ds = page.locator('#node-datasets tr[data-state="published"]').first();
    const id = await ds.getAttribute('data-dataset');
    await Promise.all([page.waitForURL(/done=/), ds.locator('button', { hasText: 'verify' }).click()]);
    assert.match(await page.textContent('#datasets-message'), /content matches its recorded hash/);
    await page.screenshot({ path: join(shots, 'node-datasets.png'), fullPage: true });
    const row = () => page.locator(`#node-datasets tr[data-dataset="${id}"]`);
    await Promise.all([page.waitForURL(/done=/), row().locator('button', { hasText: 'invalidate' }).click()]);
    assert.equal(await row().getAttribute('data-state'), 'invalidated');
    await Promise.all([page.waitForURL(/done=/), row().locator('button', { hasText: 'reactivate' }).click()]);
    assert.equal(await row().getAttribute('data-state'), 'published');

    // Both actions are in the node's audit log.
    await page.goto(node.url + '/audit');
    const audit = await page.textContent('main');
    assert.match(audit, /quarantine\.released/);
    assert.match(audit, /quarantine\.deleted/);
    assert.match(audit, /dataset\.invalidate/);
  } finally {
    await b.close();
  }
});

test('a study of the archive opens in the viewer and shows the image', async () => {
  const node = demo.nodes[1];
  const holder = demo.users.find((u) => u.name === `${node.name}-holder`);
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 900 } });
    await login(page, node, holder);
    const row = page.locator('#studies tr[data-study]').filter({ hasText: 'CT' }).first();
    await Promise.all([page.waitForURL(/\/viewer\//), row.locator('a', { hasText: 'View' }).click()]);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('viewer').dataset.state), null, { timeout: 30000 });
    const state = await page.$eval('#viewer', (el) => el.dataset.state);
    assert.equal(state, 'ready', `viewer: ${await page.textContent('#error').catch(() => '')}`);
    await page.waitForTimeout(500);
    const stats = await page.$eval('#viewport canvas', (c) => {
      const { data, width, height } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      const levels = new Set();
      for (let i = 0; i < data.length; i += 4) levels.add(data[i]);
      return { width, height, levels: levels.size };
    });
    assert.ok(stats.width > 100 && stats.levels >= 16, `canvas ${stats.width}x${stats.height}, ${stats.levels} grey levels`);
    await page.screenshot({ path: join(shots, 'viewer-demo.png') });
  } finally {
    await b.close();
  }
});

test('the same series opens through the hub, for a node that needs no inbound port', async () => {
  const node = demo.nodes[2];
  const holder = demo.users.find((u) => u.name === `${node.name}-holder`);
  // Find a CT series with the node's API (the same token works at the hub and the node).
  const res = await fetch(`${demo.hub.url}/nodes/${node.name}/dicomweb/series?Modality=CT&limit=1`, { headers: { Authorization: `Bearer ${holder.token}` } });
  assert.equal(res.status, 200, `QIDO through the hub: ${res.status}`);
  const [s] = await res.json();
  const study = s['0020000D'].Value[0], series = s['0020000E'].Value[0];
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(demo.hub.url + '/login');
    await page.fill('input[name=username]', holder.name);
    await page.fill('input[name=password]', holder.password);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
    const q = new URLSearchParams({ dicomweb: `/nodes/${node.name}/dicomweb`, study, series });
    await page.goto(`${demo.hub.url}/viewer/?${q}`);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('viewer').dataset.state), null, { timeout: 30000 });
    assert.equal(await page.$eval('#viewer', (el) => el.dataset.state), 'ready', await page.textContent('#error').catch(() => ''));
    await page.waitForTimeout(500);
    const levels = await page.$eval('#viewport canvas', (c) => {
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      const l = new Set();
      for (let i = 0; i < data.length; i += 4) l.add(data[i]);
      return l.size;
    });
    assert.ok(levels >= 16, `${levels} grey levels through the hub`);
    await page.screenshot({ path: join(shots, 'viewer-via-hub.png') });
  } finally {
    await b.close();
  }
});
