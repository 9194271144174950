// Package explorer reads the EUCAIM federated search explorer's vocabulary,
// explorer-catalogue.json (shared/reference/eucaim): groups of categories, each
// a search key with its field type, default operator and criteria (the codes a
// coded key takes). It is the one reader of that file for the project's
// generators (internal/catalogue/gen, internal/query/gen).
package explorer
