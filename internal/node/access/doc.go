// Package access is the node's policy for researchers' access to its archive: which
// images a caller holding GA4GH visas (internal/visa) may read, decided per resource by
// the node itself.
//
// A study, and every series and instance of it, is readable only if it belongs to a
// published dataset (not a draft, not invalidated) for which a presented visa, valid
// and unrevoked, grants the action. Datasets group whole studies, so the study in the
// resource path decides. The actions of the DICOMweb operations (ActionFor):
//
//	operation                                      action     visa access models
//	search (QIDO-RS)                               view       view, download
//	metadata, frames, rendered, thumbnail, bulk    view       view, download
//	retrieve (WADO-RS application/dicom)           download   download
//	store (STOW-RS)                                 —          never for visa holders
//
// "view" is what a viewer needs to show the images in situ; "download" is the DICOM
// files themselves. Bulk data belongs to viewing because viewers read pixel data
// through the Bulk Data URIs of the metadata; a "view" grant is a policy promise of
// in-situ use, not a technical barrier against copying what is shown.
//
// A search (QIDO-RS) of a visa holder sees only the studies of the datasets its visas
// grant (dicomweb.WithScope), so counts of other data never leave the node; a search
// with no dataset granted is refused.
//
// Every decision, grant or refusal (also of a caller who presented no visa at all) is
// written to the node's audit log through visa.Verifier.Record, with the resource asked
// for. Refusals wrap a visa sentinel error (expired, revoked, wrong dataset, wrong access
// model, bad signature, no visa, …) or ErrNotPublished, and come with the sentence the
// caller sees.
package access
