package web

import (
	"fmt"
	"time"
)

// ExplorerData is the data of the hub's "explorer" page: the search vocabulary by
// group, for building a federated query.
type ExplorerData struct {
	Groups []ExplorerGroup
	// Timeout is how long the hub waits for the nodes, e.g. "3s".
	Timeout string
}

// ExplorerGroup is one group of search keys ("patient", "imaging", …).
type ExplorerGroup struct {
	Name  string // the explorer's group name
	Label string // as shown
	Keys  []ExplorerKey
}

// ExplorerKey is one search key: coded (Terms) or a number (a range).
type ExplorerKey struct {
	Key, Name string
	Number    bool
	// Min is the smallest number the key takes, when it has one.
	Min    string
	Terms  []ExplorerTerm
	Single bool // takes one code only (no IN)
}

// ExplorerTerm is a code of a coded key.
type ExplorerTerm struct{ Key, Name string }

// AtlasData is the data of the hub's public "atlas" page.
type AtlasData struct {
	Updated           time.Time
	Subjects, Studies string // totals as text ("120 + < 10")
	Nodes             []AtlasNodeRow
	Charts            []Chart
}

// AtlasNodeRow is one node's line of the atlas.
type AtlasNodeRow struct {
	Node, Status, Message string
	Subjects, Studies     string
}

// Chart is a horizontal bar chart, drawn as SVG by the template "bar-chart".
type Chart struct {
	ID, Title, Unit string
	Bars            []Bar
	// Width and Height are the SVG's view box; LabelWidth is where bars start.
	Width, Height, LabelWidth int
}

// Bar is one bar: an exact part, and an uncertain part for suppressed counts (up to
// their thresholds), drawn hatched.
type Bar struct {
	Label      string
	Exact      int
	Uncertain  int
	Text       string // the value as text ("120 + < 10")
	Suppressed bool
	// Geometry, set by NewChart.
	Y, W, UW, TextX int
}

// Chart geometry.
const (
	chartWidth  = 640
	chartLabel  = 190
	chartText   = 110
	chartRow    = 26
	chartBarGap = 6
)

// NewChart lays out bars: each one's length is proportional to its exact part plus
// its uncertain part.
func NewChart(id, title, unit string, bars []Bar) Chart {
	c := Chart{ID: id, Title: title, Unit: unit, Width: chartWidth, LabelWidth: chartLabel}
	most := 0
	for _, b := range bars {
		most = max(most, b.Exact+b.Uncertain)
	}
	span := chartWidth - chartLabel - chartText
	for i, b := range bars {
		b.Y = i * chartRow
		if most > 0 {
			b.W = b.Exact * span / most
			b.UW = b.Uncertain * span / most
		}
		if b.UW == 0 && b.Uncertain > 0 {
			b.UW = 2
		}
		b.TextX = chartLabel + b.W + b.UW + 6
		c.Bars = append(c.Bars, b)
	}
	c.Height = max(len(bars)*chartRow, chartRow)
	return c
}

// BarHeight is the height of a drawn bar.
func (Chart) BarHeight() int { return chartRow - chartBarGap }

// Summary describes the chart in words, for screen readers.
func (c Chart) Summary() string {
	s := c.Title + ":"
	for i, b := range c.Bars {
		if i > 0 {
			s += ";"
		}
		s += fmt.Sprintf(" %s %s", b.Label, b.Text)
	}
	if len(c.Bars) == 0 {
		s += " no data"
	}
	return s
}
