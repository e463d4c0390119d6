package postgres

// OutboxSignal tells the outbox relay of this process that a transaction
// has committed events to the outbox, so that an idle relay polls at once
// instead of at its idle interval. Notify never blocks: notifications made
// while the relay is busy merge into one, which is all the relay needs,
// since one poll reads every event committed so far.
type OutboxSignal struct {
	ch chan struct{}
}

func NewOutboxSignal() *OutboxSignal {
	return &OutboxSignal{ch: make(chan struct{}, 1)}
}

// Notify says that events were committed. A nil signal ignores it.
func (s *OutboxSignal) Notify() {
	if s == nil {
		return
	}
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// notified delivers one value per merged notification; a nil signal's
// never does.
func (s *OutboxSignal) notified() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.ch
}
