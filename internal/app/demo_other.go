//go:build !linux

package app

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }
