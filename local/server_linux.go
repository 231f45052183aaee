package local

import "syscall"

// serverProcAttr puts a started server in its own process group (so Stop
// reaches its runners too) and has the kernel end it if synthkit dies.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
