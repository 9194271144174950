package fed

import "encoding/json"

// DatasetSync carries every dataset of a node that the catalogue should show (published
// and invalidated ones; drafts stay at the node), as JSON of package catalogue. A node
// sends it whenever one of them changes and after every (re)connect, so the hub's
// catalogue heals itself: the hub replaces all it held for the node by this list.
type DatasetSync struct {
	Header
	Node     string            `json:"node"`
	Datasets []json.RawMessage `json:"datasets"`
}

// DatasetSyncSubject is where a node publishes its DatasetSync.
func DatasetSyncSubject(node string) string { return NodePrefix + node + ".datasets" }

// AllDatasetSync is the wildcard the hub subscribes to for every node's datasets.
const AllDatasetSync = NodePrefix + "*.datasets"
