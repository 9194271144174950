package hub

import "github.com/prometheus/client_golang/prometheus"

var nodesDesc = prometheus.NewDesc("cie_hub_nodes", "Registered nodes, by state (online, offline, never).", []string{"state"}, nil)
var auditDesc = prometheus.NewDesc("cie_hub_audit_entries", "Entries in the hub's audit log.", nil, nil)

// collector reports the registry's and the audit log's state at scrape time.
type collector struct{ h *Hub }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- nodesDesc; ch <- auditDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{StateOnline: 0, StateOffline: 0, StateNever: 0}
	for _, n := range c.h.reg.list() {
		counts[n.State]++
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, float64(n), s)
	}
	ch <- prometheus.MustNewConstMetric(auditDesc, prometheus.GaugeValue, float64(c.h.audit.Size()))
}

// witnessResults counts checkpoint witnessing by outcome.
func newWitnessCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cie_hub_witness_requests_total", Help: "Node audit checkpoints offered to the hub, by outcome (cosigned or refused).",
	}, []string{"outcome"})
}
