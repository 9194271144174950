// Package pixel reads the pixel data of DICOM images: it finds frames, decodes them and
// renders them for display. It sits on top of package dicom, which never looks at pixel
// data sample by sample; this package does so only when pixels are asked for.
//
// # Frames
//
// Open checks the Image Pixel module (Rows, Columns, Samples per Pixel, Bits Allocated,
// Bits Stored, High Bit, Pixel Representation, Photometric Interpretation, Number of
// Frames) against the actual size of the pixel data and returns a *Frames. Frames.Raw and
// Frames.Reader give one frame as stored in the file (what WADO-RS "frames" returns),
// reading only that frame: for native (uncompressed) data by its offset, for
// encapsulated data by, in that order, the Extended Offset Table (7FE0,0001)/(7FE0,0002),
// the Basic Offset Table, one fragment per frame when the counts match, all fragments
// for a single frame, or JPEG start-of-image markers at the start of fragments. Bit-packed
// frames (Bits Allocated 1) that do not start on a byte boundary are realigned.
//
// # Decoding
//
// Frames.Decode returns a frame's samples as integers (*Samples): native data of 1, 8, 16
// or 32 bits allocated, in either byte order, masked to Bits Stored at High Bit and sign
// extended; RLE Lossless (PS3.5 Annex G, decoded here); JPEG baseline and extended 8-bit
// (image/jpeg). Colour is returned as RGB: YBR_FULL and YBR_FULL_422 are converted,
// PALETTE COLOR is looked up in the file's palette (8- or 16-bit entries). Everything else
// (JPEG lossless, JPEG-LS, JPEG 2000, 12-bit JPEG, segmented palettes, ...) yields an
// error matching ErrUnsupported that names the transfer syntax, so that a server can
// answer 406 with a clear message rather than send a broken image.
//
// # Rendering
//
// Frames.Render turns a frame into an 8-bit grey or RGB image.Image: modality LUT
// (Rescale Slope and Intercept), VOI window (the caller's, else the file's first Window
// Center/Width, else the frame's range) with VOI LUT Function LINEAR, LINEAR_EXACT or
// SIGMOID, MONOCHROME1 inverted, scaled to fit a viewport if asked. Frames.Thumbnail
// renders a frame scaled to fit a square; Resize is the area-averaging scaler both use;
// Encode writes PNG or JPEG.
//
// # Hostile input
//
// No size in the header is trusted: the frame count and size are checked against the
// pixel data actually present before anything is allocated, offset tables are checked
// against the fragments, and compressed data is decoded only into buffers whose size is
// justified by the compressed size (RLE expands at most 64 times; a JPEG frame's pixel
// count is bounded by MaxPixels). Malformed input yields an error matching ErrMalformed,
// never a panic.
package pixel
