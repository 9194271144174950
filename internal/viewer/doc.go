// Package viewer serves cie's image viewer: a series stack viewer built on
// cornerstone3D that reads one series over DICOMweb (the series /metadata,
// then WADO-RS frames) and lets the user scroll, window/level, zoom and pan.
//
// The viewer's JavaScript, CSS, web worker and WebAssembly codecs are built
// from web/viewer by Vite (web/viewer/build.sh) into dist/, which is committed
// and embedded with go:embed, so building cie never needs Node.
//
// A Handler is mounted at a prefix (default "/viewer/") and serves:
//
//	GET {prefix}?dicomweb=/dicomweb&study=UID&series=UID[&title=T][&back=/path]
//	    the viewer page; dicomweb may be omitted when Options.DICOMweb is set
//	GET {prefix}assets/NAME
//	    the built assets, with their content types (.wasm as application/wasm,
//	    workers as JavaScript), immutable caching (names carry content hashes)
//	    and gzip when the client accepts it
//
// Everything else under the prefix is 404. The dicomweb query parameter must
// be a same-origin path (it starts with one "/"), so a link cannot make the
// viewer fetch from, or show images of, another site. A node or the hub that
// knows the series itself calls Handler.ServePage with a Page instead, which
// may also carry a bearer token for the DICOMweb requests (a token is never
// taken from the query). Without a token the browser's same-origin cookies
// authenticate the requests.
//
// The page is index.html from dist, parsed as an html/template: Vite writes
// asset URLs in it as {{.Assets}}assets/…, and the Page fields fill data
// attributes that the script reads. The page is sent with a
// Content-Security-Policy that allows scripts, workers and connections to the
// page's own origin only (plus the DICOMweb origin of a Page, when it has one)
// and WebAssembly compilation.
package viewer
