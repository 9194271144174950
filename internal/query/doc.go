// Package query is cie's federated search language: the EUCAIM explorer's
// search AST, parsed, validated against the explorer's vocabulary and
// normalised.
//
// A query is {"ast": {"operand": "AND"|"OR", "children": […]}} with leaves
// {"key": K, "type": T, "value": V}. Parse refuses, with an *Error naming the
// offending part as a JSON Pointer ("/ast/children/1/value"), whatever is not
// a valid query: input that is too large, too deep or has too many
// conditions (checked on the raw bytes before decoding), a malformed tree,
// an unknown key, code or operator, an operator the key does not take, a
// value of the wrong type. Every such error is a 400 for the client.
//
// A parsed query is in normal form (see canon.go): Canonical writes it and
// Hash hashes it, so the same question asked with its conditions in another
// order, with other white space or with redundant wrappers has one hash — for
// audit logs and for answering it with the same noise (package disclosure).
//
// The vocabulary (LookupKey, Keys) is generated from the explorer's
// explorer-catalogue.json by ./gen, with the local values of its codes —
// DICOM Modality, Body Part Examined, Patient's Sex, the CDM's sexes — from
// the fact tables of gen/facts.go. A node that does not support some keys
// answers "unsupported" for them: Query.Keys, Query.Unsupported and
// Query.Check list them.
package query

//go:generate go run ./gen -in ../../../shared/reference/eucaim/explorer-catalogue.json -out vocab_gen.go
