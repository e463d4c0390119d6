package testenv

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSURL is the test NATS server (TEST_NATS_URL), checked to answer with
// JetStream.
func NATSURL(t testing.TB) string {
	t.Helper()
	return answering(t, "NATS JetStream", BaseNATSURL(), func(url string) error {
		return jetStreamAnswers(url, nats.Timeout(5*time.Second))
	})
}

// jetStreamAnswers connects to url and asks JetStream for the account's
// limits, which only a server with JetStream answers.
func jetStreamAnswers(url string, opts ...nats.Option) error {
	conn, err := nats.Connect(url, opts...)
	if err != nil {
		return err
	}
	defer conn.Close()
	js, err := conn.JetStream()
	if err == nil {
		_, err = js.AccountInfo()
	}
	return err
}

// NATSNamespace is a topic prefix on the test NATS server whose streams
// (named after their subjects, so starting with the prefix's characters)
// are deleted when the test ends, and that server's URL.
func NATSNamespace(t testing.TB) (url, prefix string) {
	t.Helper()
	url, prefix = NATSURL(t), TopicPrefix()
	t.Cleanup(func() { deleteStreams(url, strings.ReplaceAll(prefix, ".", "-")) })
	return url, prefix
}

// deleteStreams deletes every stream whose name starts with namePrefix.
func deleteStreams(url, namePrefix string) {
	conn, err := nats.Connect(url)
	if err != nil {
		return
	}
	defer conn.Close()
	js, err := conn.JetStream()
	if err != nil {
		return
	}
	for name := range js.StreamNames() {
		if strings.HasPrefix(name, namePrefix) {
			_ = js.DeleteStream(name)
		}
	}
}
