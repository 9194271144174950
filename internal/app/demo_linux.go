package app

import "syscall"

// childAttr makes the kernel stop a role if the demo process dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
