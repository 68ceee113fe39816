//go:build !unix

package testutil

import "time"

// ProcessCPU is not measured on this system (CPU figures read 0).
func ProcessCPU() time.Duration { return 0 }
