package runtime_test

import (
	"os/exec"
	"syscall"
)

// stopWithParent has the kernel send the service SIGTERM when the test binary dies, so that an
// example that ends it with log.Fatal (os.Exit, which skips TestMain's stop) leaves no service
// running behind.
func stopWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
