package web

import "time"

// SearchPolicyData is the Data of the "node-search" page: the node's disclosure policy
// for federated searches and each researcher's privacy budget this period.
type SearchPolicyData struct {
	Threshold int
	Epsilon   float64
	Budget    float64
	Period    string
	// Keys are the search keys the policy allows; Answered is false for one the node
	// cannot evaluate.
	Keys     []SearchKey
	Accounts []SearchAccount
}

// SearchKey is a search key of the policy.
type SearchKey struct {
	Key, Name string
	Answered  bool
}

// SearchAccount is a researcher's budget this period.
type SearchAccount struct {
	Researcher       string
	Spent, Remaining float64
	Answers          int
	Renews           time.Time
}
