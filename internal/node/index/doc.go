// Package index is the node's archive index: the patients, studies, series and instances
// it stores, in the node's SQL store (SQLite or PostgreSQL, migration 00002_archive), with
// the attributes DICOMweb (QIDO-RS) and the federated search need, and the counts of each
// level kept up to date as instances arrive.
//
// Put adds one instance in one transaction: the instance row and the updates of its
// series, study and patient commit together or not at all, so an instance is either fully
// indexed or absent. The same SOP Instance UID put twice is indexed once (Put reports it).
//
// Search answers QIDO-RS queries (PS3.18 10.6) at study, series and instance level with
// the matching of PS3.4 C.2.2.2: single values, UID lists, wildcards (* and ?), and date
// and time ranges, on the attributes of Attributes.
package index
