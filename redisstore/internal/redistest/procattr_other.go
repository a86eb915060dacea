//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing where the parent-death signal is not
// available: a crashed test binary leaves its servers running.
func dieWithParent(*exec.Cmd) {}
