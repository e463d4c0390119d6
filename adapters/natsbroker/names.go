package natsbroker

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode"
)

// Subjects are the topic names themselves, so that plain clients publish
// and read them as they are; dots are NATS token separators there.

// StreamName is the stream of a topic: the topic with every character a
// stream name may not hold (dots among them) as '-', and a hash of the
// topic, so that two topics differing only there get two streams.
func StreamName(topic string) string { return nameOf(topic) }

// ConsumerName is the durable consumer (and queue group) of a consumer
// group on each stream it reads, made as StreamName.
func ConsumerName(group string) string { return nameOf(group) }

func nameOf(s string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return fmt.Sprintf("%s-%08x", safeName(s), h.Sum32())
}

// safeName is s with every character but ASCII letters, digits, '_' and
// '-' as '-'.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
			return r
		}
		return '-'
	}, s)
}

// deliverSubject is where a consumer pushes its messages: fixed by the
// names, so that any process provisioning the consumer again after the
// server lost it makes the one its subscriptions still listen on.
func deliverSubject(stream, consumer string) string {
	return "_deliver." + stream + "." + consumer
}

// InvalidTopicError is a topic that cannot be a NATS subject.
type InvalidTopicError struct{ Topic string }

func (e InvalidTopicError) Error() string {
	return fmt.Sprintf("topic %q cannot be a NATS subject (empty token, whitespace or wildcard)", e.Topic)
}

func checkSubject(topic string) error {
	for _, token := range strings.Split(topic, ".") {
		if token == "" || token == "*" || token == ">" || strings.ContainsFunc(token, unicode.IsSpace) {
			return InvalidTopicError{Topic: topic}
		}
	}
	return nil
}
