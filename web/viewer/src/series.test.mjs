// node --test src/series.test.mjs — the ordering and image IDs of a stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sortInstances, stack, seriesURL } from './series.js';

const axial = [1, 0, 0, 0, 1, 0];
function inst(uid, num, z, iop = axial) {
  const o = { '00080018': { vr: 'UI', Value: [uid] } };
  if (num !== undefined) o['00200013'] = { vr: 'IS', Value: [num] };
  if (z !== undefined) o['00200032'] = { vr: 'DS', Value: [0, 0, z] };
  if (iop) o['00200037'] = { vr: 'DS', Value: iop };
  return o;
}
const uids = (l) => l.map((i) => i['00080018'].Value[0]);

test('sorted by position, in the direction instance numbers grow', () => {
  // Instance numbers grow head to foot (z falls); shuffled input.
  const l = [inst('c', 3, -10), inst('a', 1, 10), inst('b', 2, 0)];
  assert.deepEqual(uids(sortInstances(l)), ['a', 'b', 'c']);
  // Position wins over wrong instance numbers in the middle.
  const m = [inst('c', 2, -10), inst('a', 1, 10), inst('b', 3, 0)];
  assert.deepEqual(uids(sortInstances(m)), ['a', 'b', 'c']);
});

test('by instance number when a position is missing', () => {
  const l = [inst('x', 2, 5), inst('y', 1, undefined), inst('z', undefined, 1)];
  assert.deepEqual(uids(sortInstances(l)), ['y', 'x', 'z']);
});

test('by instance number when orientations differ', () => {
  const l = [inst('b', 2, 0, [0, 1, 0, 0, 0, -1]), inst('a', 1, 5)];
  assert.deepEqual(uids(sortInstances(l)), ['a', 'b']);
});

test('image IDs: one per frame, escaped, base slash trimmed', () => {
  const mf = inst('1.2.3', 1, 0);
  mf['00280008'] = { vr: 'IS', Value: ['3'] };
  const s = stack([mf], '/nodes/oslo/dicomweb/', '1.2', '1.2.9');
  assert.deepEqual(s.map((e) => e.imageId), [1, 2, 3].map((f) =>
    `wadors:/nodes/oslo/dicomweb/studies/1.2/series/1.2.9/instances/1.2.3/frames/${f}`));
  assert.equal(seriesURL('http://h/dw//', 'a b', 'c'), 'http://h/dw/studies/a%20b/series/c');
});

test('bad metadata is an error, never an empty stack', () => {
  assert.throws(() => stack({}, '/d', 's', 'e'), /not a DICOM JSON array/);
  assert.throws(() => stack([], '/d', 's', 'e'), /no instances/);
  assert.throws(() => stack([{}], '/d', 's', 'e'), /no SOP Instance UID/);
});
