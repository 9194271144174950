// Browser test of access negotiation on the hub against a running `cie demo`: a
// researcher puts a catalogue dataset in the basket and asks for access; the data holder
// of that dataset's node finds it in the inbox and makes it available; the researcher
// sees the state and a visa in the passport. Needs CIE_DEMO_JSON; screenshots go to
// CIE_SCREENSHOTS (default ./screenshots).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { demo, shots, browser } from './lib.mjs';

// login logs user in at the hub (through its embedded OpenID provider) and lands on next.
async function login(page, user, next) {
  await page.goto(demo.hub.url + '/login?next=' + encodeURIComponent(next));
  await page.fill('input[name=username]', user.name);
  await page.fill('input[name=password]', user.password);
  await Promise.all([page.waitForURL((u) => u.pathname === next), page.click('button[type=submit]')]);
}

test('a researcher asks for a dataset, its data holder makes it available, the researcher holds a visa', async () => {
  const researcher = demo.users.find((u) => u.role === 'researcher');
  const node = demo.nodes[0].name;
  const holder = demo.users.find((u) => u.role === 'data_holder' && u.node === node);
  const title = 'Nodule detection ' + Date.now();
  const b = await browser();
  try {
    // The researcher finds a dataset of the first node and puts it in the basket.
    const ctxR = await b.newContext({ viewport: { width: 1280, height: 900 } });
    const r = await ctxR.newPage();
    await login(r, researcher, '/catalogue');
    await Promise.all([r.waitForURL(/node=/), r.locator('.facets a', { hasText: node }).first().click()]);
    await Promise.all([r.waitForURL(/\/catalogue\/[^?]+$/), r.locator('#datasets li a').first().click()]);
    const dataset = decodeURIComponent(new URL(r.url()).pathname.split('/').pop());
    assert.match(dataset, new RegExp('^' + node + '-'));
    await Promise.all([r.waitForLoadState('load'), r.click('#add-to-basket button')]);
    assert.match(await r.textContent('#add-to-basket button'), /In your basket/);
    await r.screenshot({ path: join(shots, 'access-1-dataset-in-basket.png'), fullPage: true });

    // The request form, from the basket.
    await r.click('#basket-link');
    await r.waitForSelector(`#basket tr[data-dataset="${dataset}"]`);
    await r.fill('#title', title);
    await r.fill('#description', 'Train and validate a lung nodule detector on CT.');
    await r.fill('#purpose', 'Academic research; ethics approval attached.');
    await r.check('input[name=model][value=view]');
    await r.setInputFiles('#files', { name: 'ethics.txt', mimeType: 'text/plain', buffer: Buffer.from('Approved by the ethics board.') });
    await r.screenshot({ path: join(shots, 'access-2-request-form.png'), fullPage: true });
    await Promise.all([r.waitForURL(/\/requests\/req-/), r.click('#submit-request')]);
    const requestURL = r.url();
    assert.equal(await r.textContent('#request-title'), title);
    assert.match(await r.textContent(`#parts tr[data-dataset="${dataset}"] .part-state`), /Submitted/);
    assert.match(await r.textContent('#attachments'), /ethics\.txt/);
    await r.screenshot({ path: join(shots, 'access-3-request-submitted.png'), fullPage: true });

    // The data holder of that node sees it in the inbox and makes it available.
    const ctxH = await b.newContext({ viewport: { width: 1280, height: 900 } });
    const h = await ctxH.newPage();
    await login(h, holder, '/requests');
    assert.match(await h.textContent('#notices-link'), /Notices\s*\d+/);
    const row = h.locator(`#inbox tr[data-dataset="${dataset}"]`, { hasText: title });
    await row.waitFor();
    await h.screenshot({ path: join(shots, 'access-4-holder-inbox.png'), fullPage: true });
    await Promise.all([h.waitForURL(/\/requests\/req-/), row.locator('a').click()]);
    await h.fill('#text', 'The dataset is available for in-situ viewing.');
    await Promise.all([h.waitForURL(/done=message/), h.click('#message-form button[type=submit]')]);
    await Promise.all([h.waitForURL(/done=moved/),
      h.locator(`#parts tr[data-dataset="${dataset}"] button[value=resource_made_available]`).click()]);
    assert.match(await h.textContent(`#parts tr[data-dataset="${dataset}"] .part-state`), /Resource made available/);
    assert.match(await h.textContent('#visas'), new RegExp(dataset));
    await h.screenshot({ path: join(shots, 'access-5-holder-made-available.png'), fullPage: true });

    // The researcher is told, sees the state and the conversation, and holds a visa.
    await r.goto(requestURL);
    assert.match(await r.textContent('#notices-count'), /^\d+$/);
    assert.match(await r.textContent(`#parts tr[data-dataset="${dataset}"] .part-state`), /Resource made available/);
    assert.match(await r.textContent('#request-state'), /concluded/);
    assert.match(await r.textContent('#conversation'), /in-situ viewing/);
    await r.screenshot({ path: join(shots, 'access-6-researcher-request.png'), fullPage: true });
    await r.click('#passport-link');
    const requestID = new URL(requestURL).pathname.split('/').pop();
    const visa = r.locator(`#visas tr[data-dataset="${dataset}"][data-request="${requestID}"]`);
    await visa.waitFor();
    assert.match(await visa.textContent(), /view/);
    assert.equal((await visa.locator('.visa-state').textContent()).trim(), 'valid');
    assert.match(await r.textContent('#passport-download'), /[1-9]\d* valid visa/);
    await r.screenshot({ path: join(shots, 'access-7-passport.png'), fullPage: true });
    // The passport download is a JWT carrying a visa for exactly that dataset.
    const jwt = await r.evaluate(async (u) => (await fetch(u)).text(), '/api/v1/passport?format=jwt');
    const payload = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());
    const passport = payload(jwt);
    assert.equal(passport.sub, researcher.name);
    const visas = passport.ga4gh_passport_v1.map(payload);
    const mine = visas.find((v) => v.ga4gh_visa_v1.value === dataset && v.cie_request === requestID);
    assert.ok(mine, `no visa for ${dataset} in ${JSON.stringify(visas.map((v) => v.ga4gh_visa_v1.value))}`);
    assert.equal(mine.cie_access, 'view');
    assert.equal(mine.ga4gh_visa_v1.type, 'ControlledAccessGrants');
  } finally {
    await b.close();
  }
});
