//go:build !unix

package turn

import "time"

func processCPU() time.Duration { return 0 }
