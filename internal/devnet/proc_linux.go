package devnet

import "syscall"

// sysProcAttr makes the kernel kill btcd if the process that started it
// dies without calling Stop (a crashed or killed test binary), so no node
// outlives its test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
