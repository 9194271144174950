// The npm package dicomweb-client (the DICOMweb client of OHIF and Slim) against a cie
// node. integration.TestDICOMwebClient (go test ./integration/) starts the node, stores
// synthetic studies and pydicom files in it and runs this file with:
//
//   CIE_DICOMWEB_URL       the node's DICOMweb root, e.g. http://127.0.0.1:8081/dicomweb
//   CIE_DICOMWEB_TOKEN     a data holder's API token
//   CIE_DICOMWEB_EXPECTED  a JSON file listing what the node stored, read from its blob
//                          store: UIDs, patient, modality, size, frames, the stored file
//                          and the SHA-256 of its first frame
//
// Every answer is checked against that file, not against another DICOMweb answer.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import XMLHttpRequest from 'xhr2';
import dwc from 'dicomweb-client';

// dicomweb-client uses the browser's XMLHttpRequest; xhr2 is that API on Node's http.
globalThis.XMLHttpRequest = XMLHttpRequest;

const url = process.env.CIE_DICOMWEB_URL;
const token = process.env.CIE_DICOMWEB_TOKEN;
const expectedPath = process.env.CIE_DICOMWEB_EXPECTED;

let client;
let stored; // [{Study, Series, SOP, SOPClass, TransferSyntax, PatientID, Modality, InstanceNumber, Rows, Columns, Frames, File, Frame1SHA256}]

before(() => {
  assert.ok(url && token && expectedPath, 'run by go test ./integration/ -run TestDICOMwebClient (CIE_DICOMWEB_URL, CIE_DICOMWEB_TOKEN, CIE_DICOMWEB_EXPECTED)');
  stored = JSON.parse(readFileSync(expectedPath, 'utf8'));
  assert.ok(stored.length >= 10, `only ${stored.length} instances stored`);
  client = new dwc.api.DICOMwebClient({ url, headers: { Authorization: `Bearer ${token}` }, verbose: false });
});

const first = (obj, tag) => obj[tag]?.Value?.[0];
const uniq = (xs) => [...new Set(xs)].sort();
const sha256 = (buf) => createHash('sha256').update(Buffer.from(buf)).digest('hex');
const byStudy = (study) => stored.filter((s) => s.Study === study);
const bySeries = (series) => stored.filter((s) => s.Series === series);
const ids = (s) => ({ studyInstanceUID: s.Study, seriesInstanceUID: s.Series, sopInstanceUID: s.SOP });

test('searchForStudies finds every stored study, and a PatientID filter only its patient\'s', async () => {
  const all = await client.searchForStudies();
  assert.deepEqual(uniq(all.map((s) => first(s, '0020000D'))), uniq(stored.map((s) => s.Study)));
  for (const st of all) {
    const uid = first(st, '0020000D');
    assert.equal(first(st, '00100020'), byStudy(uid)[0].PatientID, `PatientID of study ${uid}`);
    assert.equal(first(st, '00201208'), byStudy(uid).length, `NumberOfStudyRelatedInstances of study ${uid}`);
    assert.equal(first(st, '00201206'), uniq(byStudy(uid).map((s) => s.Series)).length, `NumberOfStudyRelatedSeries of study ${uid}`);
  }
  const pid = stored[0].PatientID;
  const mine = await client.searchForStudies({ queryParams: { PatientID: pid } });
  assert.deepEqual(uniq(mine.map((s) => first(s, '0020000D'))), uniq(stored.filter((s) => s.PatientID === pid).map((s) => s.Study)));
  const none = await client.searchForStudies({ queryParams: { PatientID: 'NO-SUCH-PATIENT' } });
  assert.deepEqual(none, []);
  const limited = await client.searchForStudies({ queryParams: { limit: 2 } });
  assert.equal(limited.length, 2);
});

test('searchForSeries with study and Modality filter', async () => {
  for (const study of uniq(stored.map((s) => s.Study))) {
    const series = await client.searchForSeries({ studyInstanceUID: study });
    assert.deepEqual(uniq(series.map((s) => first(s, '0020000E'))), uniq(byStudy(study).map((s) => s.Series)), `series of study ${study}`);
    for (const se of series) {
      const uid = first(se, '0020000E');
      assert.equal(first(se, '00080060'), bySeries(uid)[0].Modality, `Modality of series ${uid}`);
      assert.equal(first(se, '00201209'), bySeries(uid).length, `NumberOfSeriesRelatedInstances of series ${uid}`);
    }
  }
  const modality = stored[0].Modality;
  const some = await client.searchForSeries({ queryParams: { Modality: modality } });
  assert.deepEqual(uniq(some.map((s) => first(s, '0020000E'))), uniq(stored.filter((s) => s.Modality === modality).map((s) => s.Series)));
});

test('searchForInstances of a series, and by SOPInstanceUID', async () => {
  for (const series of uniq(stored.map((s) => s.Series))) {
    const want = bySeries(series);
    const got = await client.searchForInstances({ studyInstanceUID: want[0].Study, seriesInstanceUID: series });
    assert.deepEqual(uniq(got.map((i) => first(i, '00080018'))), uniq(want.map((s) => s.SOP)), `instances of series ${series}`);
    for (const i of got) {
      const s = want.find((w) => w.SOP === first(i, '00080018'));
      assert.equal(first(i, '00080016'), s.SOPClass);
      assert.equal(first(i, '00200013') ?? null, s.InstanceNumber);
      assert.equal(first(i, '00083002'), s.TransferSyntax);
      if (s.Rows) {
        assert.equal(first(i, '00280010'), s.Rows);
        assert.equal(first(i, '00280011'), s.Columns);
      }
    }
  }
  const s = stored[stored.length - 1];
  const one = await client.searchForInstances({ queryParams: { SOPInstanceUID: s.SOP } });
  assert.equal(one.length, 1);
  assert.equal(first(one[0], '0020000D'), s.Study);
});

test('retrieveStudyMetadata and retrieveSeriesMetadata describe every stored instance', async () => {
  let n = 0;
  for (const study of uniq(stored.map((s) => s.Study))) {
    const meta = await client.retrieveStudyMetadata({ studyInstanceUID: study });
    assert.deepEqual(uniq(meta.map((m) => first(m, '00080018'))), uniq(byStudy(study).map((s) => s.SOP)));
    for (const m of meta) {
      const s = stored.find((w) => w.SOP === first(m, '00080018'));
      assert.equal(first(m, '0020000E'), s.Series);
      assert.equal(first(m, '00100020'), s.PatientID);
      assert.equal(first(m, '00080060'), s.Modality);
      if (s.Rows) {
        assert.equal(first(m, '00280010'), s.Rows);
        assert.match(m['7FE00010'].BulkDataURI, /^https?:\/\/.*\/bulkdata\/7FE00010$/, 'PixelData as a Bulk Data URI');
      }
      n++;
    }
  }
  assert.equal(n, stored.length);
  const s = stored[0];
  const meta = await client.retrieveSeriesMetadata({ studyInstanceUID: s.Study, seriesInstanceUID: s.Series });
  assert.deepEqual(uniq(meta.map((m) => first(m, '00080018'))), uniq(bySeries(s.Series).map((w) => w.SOP)));
});

test('retrieveInstance returns each stored file byte for byte', async () => {
  for (const s of stored) {
    const buf = await client.retrieveInstance(ids(s));
    assert.ok(Buffer.from(buf).equals(readFileSync(s.File)), `instance ${s.SOP} (${s.TransferSyntax}) differs from the stored file`);
  }
});

test('retrieveInstanceFrames returns the first frame as stored', async () => {
  const native = stored.filter((s) => s.Frame1SHA256 && ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1'].includes(s.TransferSyntax));
  assert.ok(native.length >= 10);
  for (const s of native) {
    const frames = await client.retrieveInstanceFrames({ ...ids(s), frameNumbers: [1] });
    assert.equal(frames.length, 1);
    assert.equal(sha256(frames[0]), s.Frame1SHA256, `frame 1 of ${s.SOP}`);
  }
  // Compressed frames in their own media type, as stored (dicomweb-client knows RLE
  // by its pre-2021a name, image/x-dicom-rle).
  const own = { '1.2.840.10008.1.2.5': 'image/x-dicom-rle', '1.2.840.10008.1.2.4.90': 'image/jp2', '1.2.840.10008.1.2.4.91': 'image/jp2' };
  const compressed = stored.filter((s) => s.Frame1SHA256 && own[s.TransferSyntax]);
  assert.ok(compressed.length >= 2, 'RLE and JPEG 2000 instances stored');
  for (const s of compressed) {
    const frames = await client.retrieveInstanceFrames({
      ...ids(s), frameNumbers: [1],
      mediaTypes: [{ mediaType: own[s.TransferSyntax], transferSyntaxUID: s.TransferSyntax }],
    });
    assert.equal(frames.length, 1);
    assert.equal(sha256(frames[0]), s.Frame1SHA256, `frame 1 of ${s.SOP} (${s.TransferSyntax})`);
    // The same bytes as application/octet-stream with any transfer syntax.
    const raw = await client.retrieveInstanceFrames({
      ...ids(s), frameNumbers: [1],
      mediaTypes: [{ mediaType: 'application/octet-stream', transferSyntaxUID: '*' }],
    });
    assert.equal(sha256(raw[0]), s.Frame1SHA256, `frame 1 of ${s.SOP} as octet-stream`);
  }
  // A frame that does not exist is 404.
  const s = native[0];
  await assert.rejects(client.retrieveInstanceFrames({ ...ids(s), frameNumbers: [s.Frames + 1] }), (err) => err.status === 404);
});

// explain awaits a dicomweb-client call and, when it fails, says what the node answered.
async function explain(p, what) {
  try {
    return await p;
  } catch (err) {
    const body = err.response ? Buffer.from(err.response).toString().slice(0, 300) : '';
    throw new Error(`${what}: HTTP ${err.status} ${body}`, { cause: err });
  }
}

// single is the body of a single-part answer (dicomweb-client resolves it as [body]).
const single = (r) => Buffer.from(Array.isArray(r) ? r[0] : r);

// pngSize reads the width and height of a PNG's IHDR chunk.
function pngSize(buf) {
  const b = single(buf);
  assert.ok(b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG signature');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

test('retrieveInstanceRendered renders PNG and JPEG at the image size or a viewport', async () => {
  const jpeg2000 = ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91'];
  const images = stored.filter((s) => s.Rows && s.Modality !== 'RTDOSE' && s.Frame1SHA256 && !jpeg2000.includes(s.TransferSyntax));
  assert.ok(images.length >= 10);
  for (const s of images) {
    const png = await explain(client.retrieveInstanceRendered({ ...ids(s), mediaTypes: [{ mediaType: 'image/png' }] }), `rendered ${s.SOP} (${s.TransferSyntax})`);
    assert.deepEqual(pngSize(png), { width: s.Columns, height: s.Rows }, `rendered ${s.SOP}`);
  }
  // The node does not decode JPEG 2000: 406, never a broken image.
  for (const s of stored.filter((s) => jpeg2000.includes(s.TransferSyntax))) {
    await assert.rejects(client.retrieveInstanceRendered({ ...ids(s), mediaTypes: [{ mediaType: 'image/png' }] }), (err) => err.status === 406);
  }
  const s = images[0];
  const small = await explain(client.retrieveInstanceRendered({ ...ids(s), mediaTypes: [{ mediaType: 'image/png' }], queryParams: { viewport: '32,32' } }), 'rendered in a viewport');
  const { width, height } = pngSize(small);
  assert.ok(width <= 32 && height <= 32 && Math.max(width, height) === 32, `viewport 32,32 gives ${width}×${height}`);
  const jpeg = single(await explain(client.retrieveInstanceRendered({ ...ids(s), mediaTypes: [{ mediaType: 'image/jpeg' }], queryParams: { quality: 50, window: '40,400' } }), 'rendered JPEG'));
  assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff], 'a JPEG');
});
