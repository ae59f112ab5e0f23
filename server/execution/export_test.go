package execution

// WaitingTriggers is how many Trigger calls wait for the next batch.
func (s *Service) WaitingTriggers() int {
	s.triggers.mu.Lock()
	defer s.triggers.mu.Unlock()
	return len(s.triggers.waiting)
}

// Quit closes when Stop has begun.
func (w *Worker) Quit() <-chan struct{} { return w.quit }
