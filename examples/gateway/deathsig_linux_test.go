package main

import (
	"os/exec"
	"syscall"
)

// stopWithParent has the kernel send the runtime SIGTERM when the test binary dies (a panic
// skips TestMain's stop), so that no runtime is left running behind.
func stopWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
