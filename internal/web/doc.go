// Package web is the server-rendered web shell shared by the hub and the node:
// html/template pages in one layout, htmx for the parts that refresh, and the
// static assets (cie.css, the vendored htmx) embedded in the binary, so the Go
// build never needs Node.
//
// A Site is made once at start with New, which parses every template and fails
// fast on a template error. Handlers then call Site.Render for a full page in
// the layout (header with the product name, navigation and login state; main;
// footer with the version), Site.Partial for an htmx fragment, and mount
// Site.Static at /static/.
//
// Pages and the type of their Page.Data:
//
//	"login"        nil or LoginData (the form posts username, password and csrf to /login;
//	               LoginData.Providers adds "Log in with …" buttons, NoPassword hides the form)
//	"tokens"       TokensData (forms post csrf and label to /tokens, csrf to /tokens/{id}/revoke)
//	"nodes"        NodesData (its table is the partial "nodes-table", refreshed every 2 s)
//	"audit"        AuditData
//	"placeholder"  PlaceholderData
//	"node-home"    NodeHomeData
//	"archive"      ArchiveData
//	"catalogue"    CatalogueData
//	"dataset"      DatasetData
//	"node-datasets" NodeDatasetsData
//	"node-clinical" ClinicalData (the import form posts multipart file, mapping, pseudonymized
//	               and csrf to /clinical/import)
//	"basket"       BasketData (the request form posts multipart to /requests)
//	"requests"     RequestsData
//	"request"      RequestData
//	"notices"      NoticesData
//	"passport"     PassportData
//	"error"        ErrorData
//
// Rendering is done into a buffer first: a template error gives a clean plain
// 500 response, never a half-written page or a panic. The package logs nothing;
// errors go to Options.OnError when it is set.
package web
