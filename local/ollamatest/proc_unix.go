//go:build unix

package ollamatest

import (
	"os/exec"
	"syscall"
)

// ollama serve starts runner subprocesses; putting the server in its own
// process group lets Kill and Stop take the runners down with it, as a real
// crash of the machine or container would.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		_ = cmd.Process.Signal(sig)
	}
}

func killGroup(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGKILL) }

func termGroup(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGTERM) }
