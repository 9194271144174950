// Browser test of a node's Clinical data page against a running `cie demo`, whose nodes
// imported their generated clinical tables at start. Needs CIE_DEMO_JSON; writes
// screenshots to CIE_SCREENSHOTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { demo, demoPath, shots, browser } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));

test('a data holder sees the clinical data joined to the images and imports CSV and FHIR files', async () => {
  // The last node: the archive test uploads to the first.
  const node = demo.nodes[demo.nodes.length - 1];
  const holder = demo.users.find((u) => u.name === `${node.name}-holder`);
  const nodeDir = join(dirname(demoPath), node.name);
  const b = await browser();
  try {
    const page = await b.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(node.url + '/login?next=/clinical');
    await page.fill('input[name=username]', holder.name);
    await page.fill('input[name=password]', holder.password);
    await Promise.all([page.waitForURL('**/clinical'), page.click('button[type=submit]')]);
    const n = async (sel) => Number((await page.textContent(sel)).replace(/\D/g, ''));

    // The demo's import: every generated patient, under each issuer, with a condition.
    const patients = await n('[data-table=cdm_patient]');
    assert.ok(patients >= 50, `${patients} CDM patients`);
    assert.equal(await n('[data-table=cdm_cancer_condition]'), patients);
    assert.ok(await n('[data-table=cdm_tumor_marker_test]') > 0, 'tumour markers');
    const linked = await n('[data-count=linked]');
    assert.ok(linked >= 50, `${linked} patients with images`);
    const rows = page.locator('#clinical-studies tbody tr');
    assert.ok(await rows.count() > 0, 'studies with clinical data');
    const first = await rows.first().locator('td').allTextContents();
    assert.match(first[0], /^2\.25\./, 'the study UID is the de-identified one');
    assert.match(first[1], /^CIE/, 'the patient is a pseudonym');
    assert.match(first[2], /^(female|male)$/);
    assert.match(first[3], /^\d+$/);
    assert.match(first[4], /Cancer/);
    assert.match(await page.textContent('nav'), /Clinical data/);
    await page.screenshot({ path: join(shots, 'clinical.png'), fullPage: true });

    // The node's own table and mapping again: nothing changes.
    await page.setInputFiles('#clinical-file', join(nodeDir, 'clinical.csv'));
    await page.setInputFiles('#clinical-mapping', join(nodeDir, 'clinical-mapping.yaml'));
    await Promise.all([page.waitForSelector('#clinical-report'), page.click('#clinical-form button[type=submit]')]);
    assert.match(await page.textContent('#clinical-summary'), /50 lines read: \d+ records imported, 0 with problems/);
    const pat = page.locator('#clinical-changes tr[data-table=cdm_patient]');
    assert.equal(await pat.locator('[data-n=inserted]').textContent(), '0');
    assert.equal(await pat.locator('[data-n=updated]').textContent(), '0');
    assert.equal(await n('[data-table=cdm_patient]'), patients);

    // A hand-made CSV with a line that cannot be read: reported by line, the rest imported.
    const dir = mkdtempSync(join(tmpdir(), 'cie-clinical-'));
    const csv = join(dir, 'extra.csv');
    const map = join(dir, 'extra-mapping.yaml');
    const stamp = Date.now();
    writeFileSync(csv, `mrn,sex,dx,age\nBROWSER-${stamp}-1,F,254837009,58\nBROWSER-${stamp}-2,unknown,254837009,61\nBROWSER-${stamp}-3,M,399068003,abc\n`);
    writeFileSync(map, 'patient_id: {column: mrn}\ncolumns:\n  - {column: sex, element: patient.birth_sex, values: {F: SNOMEDCT248152002, M: SNOMEDCT248153007}}\n  - {column: dx, element: cancer_condition.code, system: SNOMEDCT}\n  - {column: age, element: cancer_condition.age_at_diagnosis}\n');
    await page.setInputFiles('#clinical-file', csv);
    await page.setInputFiles('#clinical-mapping', map);
    await Promise.all([page.waitForSelector('#clinical-report'), page.click('#clinical-form button[type=submit]')]);
    assert.match(await page.textContent('#clinical-summary'), /3 lines read: 1 records imported, 2 with problems/);
    assert.match(await page.textContent('#clinical-problems tr[data-line="3"]'), /value "unknown" of column sex is not in its value map/);
    assert.match(await page.textContent('#clinical-problems tr[data-line="4"]'), /"abc" is not a whole number/);
    assert.equal(await n('[data-table=cdm_patient]'), patients + 1);
    await page.screenshot({ path: join(shots, 'clinical-import.png'), fullPage: true });

    // A FHIR bundle (the cdm package's test bundle, after mCODE's examples).
    await page.setInputFiles('#clinical-file', join(here, '../../internal/cdm/testdata/bundle.json'));
    await page.setInputFiles('#clinical-mapping', []);
    await Promise.all([page.waitForSelector('#clinical-report'), page.click('#clinical-form button[type=submit]')]);
    assert.match(await page.textContent('#clinical-summary'), /14 entries read: \d+ records imported, 4 with problems/);
    assert.match(await page.textContent('#clinical-problems tr[data-line="11"]'), /Encounter\/e1: resource type not in the CDM/);
    assert.match(await page.textContent('#clinical-imports'), /bundle\.json/);
    await page.screenshot({ path: join(shots, 'clinical-fhir.png'), fullPage: true });

    // The form is CSRF-checked.
    const resp = await page.request.post(node.url + '/clinical/import', {
      multipart: { csrf: 'forged', file: { name: 'x.csv', mimeType: 'text/csv', buffer: Buffer.from('a\n1\n') } },
      maxRedirects: 0,
    });
    assert.equal(resp.status(), 403);
  } finally {
    await b.close();
  }
});
