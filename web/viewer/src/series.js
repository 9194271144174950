// Pure functions that turn a DICOMweb series /metadata answer (DICOM JSON,
// PS3.18 F.2) into an ordered stack of wadors: image IDs. No browser APIs, so
// node --test can check them (series.test.mjs).

/** Tags used here, as DICOM JSON keys. */
export const T = {
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SOPInstanceUID: '00080018',
  Modality: '00080060',
  SeriesDescription: '0008103E',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  ImagePositionPatient: '00200032',
  ImageOrientationPatient: '00200037',
  NumberOfFrames: '00280008',
  WindowCenter: '00281050',
  WindowWidth: '00281051',
  PatientName: '00100010',
};

/** value returns the first value of a DICOM JSON attribute, or undefined. */
export function value(inst, tag) {
  const a = inst && inst[tag];
  if (!a || !Array.isArray(a.Value) || a.Value.length === 0) return undefined;
  const v = a.Value[0];
  if (v && typeof v === 'object' && 'Alphabetic' in v) return v.Alphabetic;
  return v;
}

/** numbers returns all values of a numeric attribute (DS/IS may come as strings), or undefined. */
export function numbers(inst, tag) {
  const a = inst && inst[tag];
  if (!a || !Array.isArray(a.Value) || a.Value.length === 0) return undefined;
  const out = a.Value.map(Number);
  return out.every(Number.isFinite) ? out : undefined;
}

function cross(a, b) {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function sameOrientation(a, b) {
  return a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-3);
}

/**
 * sortInstances orders the instances of one series for a stack: by position
 * along the slice normal when every instance has ImagePositionPatient and the
 * same ImageOrientationPatient, else by InstanceNumber; ties and missing
 * numbers by SOP Instance UID, so the order is always the same. The direction
 * along the normal is the one in which InstanceNumber grows, so slice 1 is
 * usually instance 1. Returns a new array.
 */
export function sortInstances(instances) {
  const items = instances.map((inst) => ({
    inst,
    uid: String(value(inst, T.SOPInstanceUID) ?? ''),
    num: Number(value(inst, T.InstanceNumber)),
    ipp: numbers(inst, T.ImagePositionPatient),
    iop: numbers(inst, T.ImageOrientationPatient),
  }));
  const byNumber = (a, b) => {
    const an = Number.isFinite(a.num), bn = Number.isFinite(b.num);
    if (an && bn && a.num !== b.num) return a.num - b.num;
    if (an !== bn) return an ? -1 : 1;
    return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
  };
  const iop0 = items[0]?.iop;
  const spatial = items.length > 1 && iop0 && iop0.length === 6 &&
    items.every((it) => it.ipp && it.ipp.length === 3 && it.iop && sameOrientation(it.iop, iop0));
  if (!spatial) return items.sort(byNumber).map((it) => it.inst);
  const n = cross(iop0.slice(0, 3), iop0.slice(3, 6));
  for (const it of items) it.d = it.ipp[0] * n[0] + it.ipp[1] * n[1] + it.ipp[2] * n[2];
  items.sort((a, b) => (Math.abs(a.d - b.d) > 1e-4 ? a.d - b.d : byNumber(a, b)));
  const first = items[0], last = items[items.length - 1];
  if (Number.isFinite(first.num) && Number.isFinite(last.num) && first.num > last.num) items.reverse();
  return items.map((it) => it.inst);
}

/**
 * seriesURL is the DICOMweb URL of a series: base without trailing slashes,
 * then /studies/{study}/series/{series}, UIDs URL-escaped.
 */
export function seriesURL(base, study, series) {
  return `${base.replace(/\/+$/, '')}/studies/${encodeURIComponent(study)}/series/${encodeURIComponent(series)}`;
}

/**
 * stack turns a /metadata answer into the sorted list of frames:
 * [{imageId, instance, frame}] with imageId "wadors:{series URL}/instances/{sop}/frames/{n}".
 * Multi-frame instances give one entry per frame, in frame order. It throws
 * an Error naming the problem when the answer is not a non-empty array of
 * instances with SOP Instance UIDs.
 */
export function stack(metadata, base, study, series) {
  if (!Array.isArray(metadata)) throw new Error('the series metadata is not a DICOM JSON array');
  if (metadata.length === 0) throw new Error('the series has no instances');
  const url = seriesURL(base, study, series);
  const out = [];
  for (const inst of sortInstances(metadata)) {
    const sop = value(inst, T.SOPInstanceUID);
    if (!sop) throw new Error('an instance of the series has no SOP Instance UID');
    const frames = Math.max(1, Number(value(inst, T.NumberOfFrames)) || 1);
    for (let f = 1; f <= frames; f++) {
      out.push({ imageId: `wadors:${url}/instances/${encodeURIComponent(sop)}/frames/${f}`, instance: inst, frame: f });
    }
  }
  return out;
}

/** CT window presets: [label, width, center]. */
export const CT_PRESETS = [
  ['Soft tissue', 400, 40],
  ['Lung', 1500, -600],
  ['Bone', 1800, 400],
  ['Brain', 80, 40],
];
