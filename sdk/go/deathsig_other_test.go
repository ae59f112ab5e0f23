//go:build !linux

package runtime_test

import "os/exec"

// stopWithParent does nothing where the kernel cannot signal a child when its parent dies: a
// test binary that exits without TestMain's stop leaves the service running there.
func stopWithParent(*exec.Cmd) {}
