package server

import (
	"os"

	"hearth/internal/heapgoal"
)

// ApplyMemoryPolicy applies [memory] to the process (docs/memory.md)
// until the returned function is called: the collector keeps the heap
// goal at the live heap plus the headroom, and the memory limit is set.
// GOGC and GOMEMLIMIT in the environment win over the file. The policy
// is the process's, not the server's: `hearth serve` applies it; tests
// and embedders that run several servers leave Go's defaults alone.
func (s *Server) ApplyMemoryPolicy() (stop func()) {
	m := s.cfg.Memory
	c, applied := heapgoal.Start(heapgoal.Policy{
		Headroom: uint64(m.Headroom),
		Percent:  m.HeadroomPercent,
		Limit:    int64(m.Limit),
	}, os.Getenv)
	switch {
	case applied.Headroom:
		s.log.Info("memory: heap headroom set", "headroom_bytes", int64(m.Headroom), "headroom_percent", m.HeadroomPercent, "gogc_now", heapgoal.Percent())
	default:
		s.log.Info("memory: GOGC set in the environment; [memory] headroom not applied", "gogc", os.Getenv("GOGC"))
	}
	switch {
	case applied.Limit:
		s.log.Info("memory: limit set", "limit_bytes", int64(m.Limit))
	case m.Limit > 0:
		s.log.Info("memory: GOMEMLIMIT set in the environment; [memory] limit not applied", "gomemlimit", os.Getenv("GOMEMLIMIT"))
	}
	return c.Stop
}
