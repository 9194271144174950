// Package blob is cie's store for large immutable-by-key objects (de-identified
// DICOM files, job outputs, dataset exports) over gocloud.dev/blob.
//
// A Store is opened from a URL:
//
//   - "file:///abs/dir" or a plain path ("/abs/dir", "rel/dir"): the embedded
//     default, a folder on the local file system (gocloud fileblob). The folder
//     is created if missing. No ".attrs" sidecar files are written.
//   - "s3://bucket?endpoint=http://127.0.0.1:7070&region=us-east-1&use_path_style=true":
//     any S3-compatible service (gocloud s3blob over aws-sdk-go-v2), tested
//     against versitygw. See Open for the accepted query parameters.
//
// # Keys
//
// Keys are slash-separated relative paths ("ab/cd/1.2.3.dcm"); ValidKey
// tells which are accepted. The same rules apply to every backend, so a key
// that works on the file system also works on S3 and the other way round,
// with one exception: on the file system a key cannot also be the "folder" of
// other keys. While "a/b" exists, a Put of "a" fails (and the other way
// round); S3 allows both. Keys of fixed depth or with a file extension
// ("<study>/<series>/<instance>.dcm") never meet this. Delete removes the
// folders it leaves empty.
//
// # Atomic writes
//
// Put is atomic on every backend: a reader sees either no object, the
// complete previous object or the complete new one, never part of one. A Put
// whose reader fails, or whose context is cancelled, stores nothing and leaves
// any previous object under the key untouched.
//
//   - file: the data is streamed to a temporary file beside the final one
//     ("<key>.<hex>.tmp"), fsynced, and renamed over the key; the folder is
//     then fsynced. Such temporary names are reserved (ValidKey rejects them)
//     and List never shows them. An aborted write removes its temporary file;
//     only a process crash in the middle of a Put can leave one behind, still
//     invisible through this package.
//   - s3: the data is streamed as a single PUT or, for objects larger than a
//     part (8 MiB), a multipart upload; S3 makes an object visible only when
//     the upload completes. An aborted multipart upload is aborted on the
//     server too.
//
// Put streams: memory use is bounded by a copy buffer (file) or by the S3
// transfer manager's part buffers, whatever the object's size.
package blob
