// Package integration holds multi-process tests: the cie binary is built
// once and run as separate hub and node processes on loopback.
package integration
