package freeport

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
)

// Picker hands out free loopback addresses, each at most once. The zero value is
// ready; it is safe for concurrent use.
type Picker struct {
	mu    sync.Mutex
	taken map[string]bool
}

// Pick returns "127.0.0.1:port": preferred if it is free and not handed out yet (0:
// no preference), else a free port the kernel picks.
func (p *Picker) Pick(preferred int) (string, error) {
	for range 50 {
		addr, err := free(preferred)
		if err != nil {
			return "", err
		}
		p.mu.Lock()
		fresh := !p.taken[addr]
		if fresh {
			if p.taken == nil {
				p.taken = map[string]bool{}
			}
			p.taken[addr] = true
		}
		p.mu.Unlock()
		if fresh {
			return addr, nil
		}
		preferred = 0
	}
	return "", errors.New("finding a free port: the kernel kept offering ports already handed out")
}

// free returns the preferred port if it is free, else one the kernel picks.
func free(preferred int) (string, error) {
	if preferred > 0 {
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(preferred)); err == nil {
			addr := ln.Addr().String()
			ln.Close()
			return addr, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
