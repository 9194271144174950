// Stands in for the dicom-image-loader decoders this viewer leaves out (see
// vite.config.js): initialising or decoding fails with a message that says so.
const message = 'this transfer syntax (JPEG XL) is not supported by the cie viewer';

export function initialize() {
  return Promise.reject(new Error(message));
}

export default async function decode() {
  throw new Error(message);
}
