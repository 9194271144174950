// Package httpx holds what the HTTP servers of the hub and the node have in
// common: JSON replies and errors, health and readiness probes, Prometheus
// metrics on a per-role registry, bearer-token and session middleware, and a
// server that shuts down gracefully with its context.
package httpx
