//go:build !unix

package ollamatest

import "os/exec"

func setProcessGroup(cmd *exec.Cmd) {}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

func termGroup(cmd *exec.Cmd) { killGroup(cmd) }
