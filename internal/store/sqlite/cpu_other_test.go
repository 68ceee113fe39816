//go:build !unix

package sqlite

import "time"

// processCPU is not measured on this system (cpu-µs figures read 0).
func processCPU() time.Duration { return 0 }
