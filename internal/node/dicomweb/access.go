package dicomweb

import (
	"context"
	"net/http"
)

// Op is what a DICOMweb route does; the guard that Register wraps around every
// route reads it (OpOf) to apply the caller's access policy per operation.
type Op string

// The operations of the routes.
const (
	OpSearch    Op = "search"    // QIDO-RS
	OpRetrieve  Op = "retrieve"  // WADO-RS of whole instances (application/dicom)
	OpMetadata  Op = "metadata"  // WADO-RS metadata (DICOM JSON)
	OpBulkdata  Op = "bulkdata"  // a Bulk Data URI of the metadata
	OpFrames    Op = "frames"    // WADO-RS frames (pixel data)
	OpRendered  Op = "rendered"  // rendered images (PNG/JPEG)
	OpThumbnail Op = "thumbnail" // thumbnails
	OpStore     Op = "store"     // STOW-RS
	OpNone      Op = "none"      // no such resource (the 404 under the prefix)
)

type ctxKey int

const (
	opKey ctxKey = iota
	scopeKey
)

// OpOf returns the operation of the route a request was routed to, OpNone
// outside a route Register added.
func OpOf(ctx context.Context) Op {
	if op, ok := ctx.Value(opKey).(Op); ok {
		return op
	}
	return OpNone
}

// withOp marks requests with the route's operation before h (the guard) runs.
func withOp(op Op, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(context.WithValue(r.Context(), opKey, op)))
	}
}

// WithScope restricts the searches (QIDO-RS) of a request to the studies of
// datasets: a guard sets it for a caller who may see only those. Without a
// scope a search sees the whole archive.
func WithScope(ctx context.Context, datasets []string) context.Context {
	return context.WithValue(ctx, scopeKey, append([]string{}, datasets...))
}

// scopeOf returns the scope WithScope set, and whether there is one.
func scopeOf(ctx context.Context) ([]string, bool) {
	s, ok := ctx.Value(scopeKey).([]string)
	return s, ok
}
