// Package bustls makes, keeps and loads the TLS certificates of the hub's
// bus, and builds the tls.Config of both ends.
//
// With the hub's default setting (bus.tls: auto) the hub is its own
// certificate authority: LoadOrCreateCA keeps a self-signed ECDSA P-256 CA in
// the hub's key folder (CACertFile, CAKeyFile), made on first use and reused
// for good, so that the CA written into node credentials stays valid across
// restarts; ServerCertificate keeps the bus server's certificate, signed by
// that CA (CertFile, KeyFile), and makes a new one when it expires within
// RenewBefore or no longer names every host the hub is configured with.
// Auto does both and returns the server's tls.Config.
//
// A node trusts exactly the CA its credentials carry (ClientConfig), or the
// system roots when they carry none (for a hub whose certificate comes from
// a public CA). Both ends require TLS 1.2 at least; Go prefers TLS 1.3.
package bustls
