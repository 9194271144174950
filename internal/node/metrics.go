package node

import "github.com/prometheus/client_golang/prometheus"

var (
	connectedDesc = prometheus.NewDesc("cie_node_hub_connected", "1 while the node is connected to the hub's bus.", nil, nil)
	entriesDesc   = prometheus.NewDesc("cie_node_audit_entries", "Entries in the node's audit log.", nil, nil)
	witnessedDesc = prometheus.NewDesc("cie_node_audit_witnessed_entries", "Size of the node's last audit checkpoint the hub witnessed.", nil, nil)
)

// collector reports the node's federation state at scrape time.
type collector struct{ n *Node }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connectedDesc
	ch <- entriesDesc
	ch <- witnessedDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.n.status()
	up := 0.0
	if st.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(connectedDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(entriesDesc, prometheus.GaugeValue, float64(st.AuditSize))
	ch <- prometheus.MustNewConstMetric(witnessedDesc, prometheus.GaugeValue, float64(st.Witnessed))
}
