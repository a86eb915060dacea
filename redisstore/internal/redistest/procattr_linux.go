package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the server die with the test binary, should the
// binary crash before it stops the server.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
