// Browser test of the hub's Nodes page against a running `cie demo`.
// Needs CIE_DEMO_JSON (the demo's demo.json) and writes screenshots to
// CIE_SCREENSHOTS (default ./screenshots).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { demo, shots, browser } from './lib.mjs';

test('the Nodes page shows the three demo nodes online', async () => {
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(demo.hub.url + '/nodes');
    await page.waitForSelector('#nodes [data-node]');
    // The table refreshes itself; wait until every row is online.
    await page.waitForFunction(
      (n) => document.querySelectorAll('#nodes [data-state="online"]').length === n,
      demo.nodes.length, { timeout: 15000 });
    const rows = await page.$$eval('#nodes [data-node]', (els) => els.map((e) => [e.dataset.node, e.dataset.state]));
    assert.deepEqual(rows.map((r) => r[0]).sort(), demo.nodes.map((n) => n.name).sort());
    for (const [name, state] of rows) assert.equal(state, 'online', `${name} is ${state}`);
    await page.screenshot({ path: join(shots, 'nodes.png'), fullPage: true });
  } finally {
    await b.close();
  }
});

test('an administrator logs in and sees the audit log; a wrong password is refused', async () => {
  const admin = demo.users.find((u) => u.role === 'platform_admin');
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(demo.hub.url + '/login');
    await page.fill('input[name=username]', admin.name);
    await page.fill('input[name=password]', 'not-the-password');
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
    assert.match(await page.content(), /Wrong user name or password/);

    await page.fill('input[name=username]', admin.name);
    await page.fill('input[name=password]', admin.password);
    await Promise.all([page.waitForURL('**/nodes'), page.click('button[type=submit]')]);
    assert.match(await page.textContent('header'), new RegExp(admin.name));

    await page.goto(demo.hub.url + '/audit');
    const body = await page.textContent('main');
    assert.match(body, /node\.registered/);
    assert.match(body, /login/);
    await page.screenshot({ path: join(shots, 'audit.png'), fullPage: true });
  } finally {
    await b.close();
  }
});

test('a node shows its own overview page, connected to the hub', async () => {
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 800 } });
    const n = demo.nodes[0];
    await page.goto(n.url + '/');
    const body = await page.textContent('main');
    assert.match(body, new RegExp(n.name));
    assert.match(body, /[Cc]onnected/);
    await page.screenshot({ path: join(shots, `node-${n.name}.png`), fullPage: true });
  } finally {
    await b.close();
  }
});

test('anyone finds the demo datasets in the catalogue, filters by node and opens one', async () => {
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(demo.hub.url + '/catalogue');
    const all = await page.locator('#datasets li[data-dataset]').count();
    assert.ok(all >= demo.nodes.length, `${all} datasets in the catalogue`);
    await page.screenshot({ path: join(shots, 'catalogue.png'), fullPage: true });
    const node = demo.nodes[0].name;
    await Promise.all([page.waitForURL(/node=/), page.locator('.facets a', { hasText: node }).first().click()]);
    const rows = await page.$$eval('#datasets li[data-dataset]', (els) => els.map((e) => e.textContent));
    assert.ok(rows.length >= 1 && rows.length < all, `${rows.length} of ${all} after filtering by ${node}`);
    for (const r of rows) assert.match(r, new RegExp(node));
    await Promise.all([page.waitForURL(/\/catalogue\/[^?]+$/), page.locator('#datasets li a').first().click()]);
    assert.match(await page.textContent('#dataset-title'), /studies/);
    assert.match(await page.textContent('main'), /Content hash/);
    await page.screenshot({ path: join(shots, 'dataset.png'), fullPage: true });
  } finally {
    await b.close();
  }
});
