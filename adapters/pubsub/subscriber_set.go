package pubsub

import (
	"errors"
	"io"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// subscriberSet holds the subscribers a pub/sub made, so that closing the
// pub/sub closes them too (closing one twice is harmless: the router closes
// its own); once closed, it makes no more.
type subscriberSet[S message.Subscriber] struct {
	mu     sync.Mutex
	list   []S
	closed bool
}

// add makes a subscriber with newSubscriber and keeps it, unless the set
// is closed.
func (s *subscriberSet[S]) add(newSubscriber func() (S, error)) (S, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var none S
	if s.closed {
		return none, ClosedError{}
	}
	sub, err := newSubscriber()
	if err != nil {
		return none, err
	}
	s.list = append(s.list, sub)
	return sub, nil
}

// close closes the subscribers and then the others, the first time only.
func (s *subscriberSet[S]) close(others ...io.Closer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, sub := range s.list {
		errs = append(errs, sub.Close())
	}
	for _, c := range others {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
