//go:build !linux

package devnet

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
