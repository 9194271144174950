// Package freeport finds free loopback TCP addresses for servers started later (the
// demo's hub and nodes, the integration tests' and benchmarks' processes). A Picker
// never hands out the same address twice: once the listener that found a port free
// has closed, the kernel may offer that port again, and two servers told to use it
// fail with "address already in use".
package freeport
