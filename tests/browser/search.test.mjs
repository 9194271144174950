// Browser test of the hub's federated search (Explorer) and public Atlas against a
// running `cie demo`. Needs CIE_DEMO_JSON and writes screenshots to CIE_SCREENSHOTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { demo, shots, browser } from './lib.mjs';

async function login(page, user) {
  await page.goto(demo.hub.url + '/login?next=/explorer');
  await page.fill('input[name=username]', user.name);
  await page.fill('input[name=password]', user.password);
  await Promise.all([page.waitForURL('**/explorer'), page.click('button[type=submit]')]);
}

test('a researcher builds "female, age 40–60, breast cancer, MR" and watches the node rows fill in', async () => {
  const researcher = demo.users.find((u) => u.role === 'researcher');
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 1000 } });
    await login(page, researcher);
    // Gender: female, by its box; breast cancer by the autocomplete.
    await page.check('.explorer-key[data-key="SNOMEDCT263495000"] input[value="SNOMEDCT248152002"]');
    await page.fill('#find-code', 'Breast Cancer — Diagnosis');
    assert.ok(await page.isChecked('.explorer-key[data-key="SNOMEDCT439401001"] input[value="SNOMEDCT254837009"]'),
      'picking "Breast Cancer" in the autocomplete ticks its box');
    await page.fill('.explorer-key[data-key="SNOMEDCT423493009"] [data-bound=min]', '40');
    await page.fill('.explorer-key[data-key="SNOMEDCT423493009"] [data-bound=max]', '60');
    await page.check('.explorer-key[data-key="RID10311"] input[value="RID10312"]');
    const ast = JSON.parse(await page.textContent('#ast'));
    const leaves = ast.ast.children.flatMap((g) => g.children);
    assert.deepEqual(leaves.map((l) => l.key).sort(), ['RID10311', 'SNOMEDCT263495000', 'SNOMEDCT423493009', 'SNOMEDCT439401001']);
    assert.deepEqual(leaves.find((l) => l.key === 'SNOMEDCT423493009').value, { min: 40, max: 60 });

    await page.click('#run');
    // One row per demo node appears, and each ends with counts or a clear status.
    await page.waitForFunction((n) => document.querySelectorAll('#result-rows tr[data-node]').length === n,
      demo.nodes.length, { timeout: 10000 });
    await page.waitForSelector('#results[data-state="done"]', { timeout: 15000 });
    const rows = await page.$$eval('#result-rows tr[data-node]', (trs) => trs.map((tr) => ({
      node: tr.dataset.node, status: tr.dataset.status,
      subjects: tr.children[2].textContent, pill: tr.children[1].textContent,
    })));
    assert.deepEqual(rows.map((r) => r.node).sort(), demo.nodes.map((n) => n.name).sort());
    // Every demo node evaluates the query and answers with counts (exact, noisy or "< 10").
    for (const r of rows) {
      assert.equal(r.status, 'ok', `${r.node}: status ${r.status} (${r.pill.trim()})`);
      // A node's total: exact or noisy numbers and suppressed cells, e.g. "42", "< 10", "2 × < 10", "42 + < 10".
      assert.match(r.subjects, /^(\d+|(\d+ × )?< \d+)( \+ (\d+ × )?< \d+)?$/, `${r.node}: subjects ${r.subjects}`);
      assert.ok(r.pill.trim().length > 0, `${r.node}: no status text`);
    }
    assert.ok(await page.locator('#result-rows .collection').count() > 0, 'no dataset lines in the answers');
    assert.notEqual((await page.textContent('#total-subjects')).trim(), '—', 'no total of subjects');
    const href = await page.getAttribute('#download', 'href');
    assert.match(href, /^\/api\/v1\/search\/[0-9a-f]+\?download=1$/);
    const doc = await page.evaluate(async (u) => (await fetch(u)).json(), href);
    assert.equal(doc.nodes.length, demo.nodes.length);
    assert.equal(doc.researcher, researcher.name);
    await page.screenshot({ path: join(shots, 'explorer.png'), fullPage: true });
  } finally {
    await b.close();
  }
});

test('a query the hub refuses shows what is wrong and where', async () => {
  const researcher = demo.users.find((u) => u.role === 'researcher');
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 800 } });
    await login(page, researcher);
    await page.fill('.explorer-key[data-key="SNOMEDCT423493009"] [data-bound=min]', '60');
    await page.fill('.explorer-key[data-key="SNOMEDCT423493009"] [data-bound=max]', '40');
    await page.click('#run');
    await page.waitForSelector('#search-error:not([hidden])');
    const msg = await page.textContent('#search-error');
    assert.match(msg, /min 60 is above max 40/);
    assert.match(msg, /\/ast\/children\/0\/children\/0\/value/);
  } finally {
    await b.close();
  }
});

test('the public atlas shows charts without a login', async () => {
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(demo.hub.url + '/atlas');
    await page.waitForSelector('#atlas-nodes');
    const rows = await page.$$eval('#atlas-nodes tr[data-node]', (trs) => trs.map((tr) => [tr.dataset.node, tr.dataset.status]));
    assert.deepEqual(rows.map((r) => r[0]).sort(), demo.nodes.map((n) => n.name).sort());
    for (const [node, status] of rows) assert.equal(status, 'ok', `${node}: ${status}`);
    assert.equal(await page.locator('section.chart').count(), 5);
    assert.ok(await page.locator('#subjects-by-node svg.bars g.bar').count() > 0, 'no bars of subjects by node');
    assert.ok(await page.locator('#by-modality svg.bars g.bar').count() > 0, 'no bars by modality');
    await page.screenshot({ path: join(shots, 'atlas.png'), fullPage: true });
  } finally {
    await b.close();
  }
});

test("a node's data holder sees its search policy and the researcher's spent budget", async () => {
  // Runs after the explorer test above: the researcher has asked every node.
  const researcher = demo.users.find((u) => u.role === 'researcher');
  const node = demo.nodes[0];
  const holder = demo.users.find((u) => u.name === `${node.name}-holder`);
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(node.url + '/login?next=/search-policy');
    await page.fill('input[name=username]', holder.name);
    await page.fill('input[name=password]', holder.password);
    await Promise.all([page.waitForURL('**/search-policy'), page.click('button[type=submit]')]);
    // The demo nodes run the default policy: threshold 10, ε 1, budget 20 per 30 days.
    assert.equal((await page.textContent('[data-policy=threshold]')).trim(), '10');
    assert.equal((await page.textContent('[data-policy=epsilon]')).trim(), '1');
    assert.equal((await page.textContent('[data-policy=budget]')).trim(), '20');
    assert.equal((await page.textContent('[data-policy=period]')).trim(), '30 days');
    // Every key of the vocabulary is listed; BI-RADS has no data here and says so.
    assert.ok(await page.locator('#search-keys li').count() > 10, 'search keys listed');
    assert.match(await page.textContent('#search-keys li[data-key="EUCAIM_Hyper-Ontology_V1.0.IMG1005459"]'), /answered as unsupported/);
    const row = page.locator(`#search-accounts tr[data-researcher="${researcher.name}"]`);
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[0], researcher.name);
    assert.ok(Number(cells[1]) >= 1, `questions: ${cells[1]}`);
    assert.equal(Number(cells[2]) + Number(cells[3]), 20, `spent ${cells[2]} + left ${cells[3]} is the budget`);
    assert.ok(Number(cells[2]) >= 1, `spent: ${cells[2]}`);
    await page.screenshot({ path: join(shots, 'search-policy.png'), fullPage: true });
    // The node's audit log has the researcher's search, or says it is queued for it
    // (search events move into the log in batches).
    await page.goto(node.url + '/audit');
    const queued = await page.locator('#audit-queued').count();
    const logged = await page.locator('tr[data-index]', { hasText: 'search' }).filter({ hasText: researcher.name }).count();
    assert.ok(queued + logged > 0, 'the search is neither in the audit log nor queued for it');
    await page.screenshot({ path: join(shots, 'node-audit.png'), fullPage: true });
  } finally {
    await b.close();
  }
});
