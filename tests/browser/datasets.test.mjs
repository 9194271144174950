// Browser test of the form on a node's Datasets page against a running `cie demo`: a
// data holder searches the index, picks studies, fills in the catalogue metadata and
// publishes the dataset; it appears in the hub's catalogue. Needs CIE_DEMO_JSON; writes
// screenshots to CIE_SCREENSHOTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { demo, shots, browser } from './lib.mjs';

test('a data holder makes a dataset with the form, publishes it, and the catalogue shows it', async () => {
  const node = demo.nodes[0];
  const holder = demo.users.find((u) => u.name === `${node.name}-holder`);
  // (Other tests open the first dataset of the catalogue and expect "studies" in its title.)
  const title = `MR studies of the form test ${Date.now()}`;
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(node.url + '/login?next=/datasets');
    await page.fill('input[name=username]', holder.name);
    await page.fill('input[name=password]', holder.password);
    await Promise.all([page.waitForURL('**/datasets'), page.click('button[type=submit]')]);
    const before = await page.locator('#node-datasets tr[data-dataset]').count();
    await page.locator('#new-dataset').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'dataset-form.png'), fullPage: true });

    // Search the index: only MR studies are listed; pick two.
    const all = await page.locator('#study-picks tbody tr').count();
    assert.ok(all > 2, `${all} studies to pick from before searching`);
    await page.fill('#study-search', 'MR');
    await page.waitForFunction((n) => document.querySelectorAll('#study-picks tbody tr').length !== n, all);
    const mods = await page.$$eval('#study-picks tbody tr td:nth-child(5)', (tds) => tds.map((t) => t.textContent));
    assert.ok(mods.length >= 2, `${mods.length} MR studies`);
    for (const m of mods) assert.match(m, /MR/);
    const boxes = page.locator('#study-picks input[name=study]');
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    const picked = await page.$$eval('#study-picks input[name=study]:checked', (els) => els.map((e) => e.value));

    // The other ways of choosing studies show their own fields.
    await page.check('input[name=from][value=batch]');
    assert.ok(await page.isVisible('#batch'));
    assert.ok(!(await page.isVisible('#study-search')));
    await page.check('input[name=from][value=studies]');
    assert.ok(await page.isVisible('#study-search'));

    await page.fill('#title', title);
    await page.fill('#description', 'MR studies picked by hand in the browser test.');
    await page.fill('#keywords', 'MR, browser test');
    await page.selectOption('#cancer_types', { index: 0 });
    await page.selectOption('#body_parts', { index: 0 });
    await page.selectOption('#access_rights', 'RESTRICTED');
    await page.selectOption('#interop', 'Tier 2');
    await page.fill('#contact_name', 'Data desk');
    await page.fill('#contact_email', 'desk@example.org');
    await page.fill('#publisher_name', 'Demo hospital');
    await page.check('input[name=publish]');
    await page.screenshot({ path: join(shots, 'dataset-form-filled.png'), fullPage: true });
    await Promise.all([page.waitForURL(/done=/), page.click('#dataset-form button[type=submit]')]);

    const msg = await page.textContent('#datasets-message');
    assert.match(msg, new RegExp(`${title} created and published .*: 2 studies`));
    assert.equal(await page.locator('#node-datasets tr[data-dataset]').count(), before + 1);
    const row = page.locator('#node-datasets tr[data-dataset]', { hasText: title });
    assert.equal(await row.getAttribute('data-state'), 'published');
    const id = await row.getAttribute('data-dataset');
    assert.match(await row.textContent(), /\b2\b/);
    await page.screenshot({ path: join(shots, 'dataset-created.png'), fullPage: true });

    // Revise without a change: still version 1.
    await Promise.all([page.waitForURL(/done=/), row.locator('button', { hasText: 'revise' }).click()]);
    assert.match(await page.textContent('#datasets-message'), /content unchanged, still version 1/);

    // The hub's catalogue has it (sent over the bus on publishing).
    let found = false;
    for (let i = 0; i < 20 && !found; i++) {
      await page.goto(demo.hub.url + '/catalogue?q=' + encodeURIComponent(title));
      found = (await page.locator(`#datasets li[data-dataset="${id}"]`).count()) === 1;
      if (!found) await page.waitForTimeout(250);
    }
    assert.ok(found, `${id} in the hub's catalogue`);
    await page.screenshot({ path: join(shots, 'dataset-in-catalogue.png'), fullPage: true });
    assert.equal(picked.length, 2);
  } finally {
    await b.close();
  }
});
