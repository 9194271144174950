// Package dataset is the node's side of datasets: a data holder groups stored studies
// into a dataset, describes it, and publishes it to the hub's catalogue.
//
// # Content hash tree
//
// A dataset's content is pinned by a SHA3-256 hash tree. The leaves are the instances'
// SHA-256 digests as recorded when they were stored (the blob store computes them while
// writing); a series hashes the sorted leaf digests of its instances, a study the sorted
// hashes of its series, and the dataset the sorted hashes of its studies, each prefixed
// with its UID so that moving an instance to another series changes the tree:
//
//	series  = SHA3-256("series\x00" + seriesUID + "\x00" + sorted(sopUID + "=" + sha256)...)
//	study   = SHA3-256("study\x00"  + studyUID  + "\x00" + sorted(seriesUID + "=" + series)...)
//	dataset = SHA3-256("dataset\x00"               + sorted(studyUID + "=" + study)...)
//
// Verify recomputes every leaf from the stored bytes and names what differs from the
// recorded tree: an instance changed, missing or added, per series and study.
//
// # Versions
//
// Revise records a dataset's content anew, with other studies (the holder added or
// removed some) or the same ones (whose content changed). If the root differs, a
// dataset that has been published gets a new version (catalogue.Dataset.Version, with
// version notes) with its own tree in the blob store; earlier trees stay, and Versions
// lists them all (table dataset_versions). A draft's content is replaced in place.
package dataset
