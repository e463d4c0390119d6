package redispubsub_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/redispubsub"
)

// recordingPublisher writes what it is asked to publish into a shared log.
type recordingPublisher struct {
	name string
	log  *[]string
	err  error
}

func (p recordingPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		*p.log = append(*p.log, p.name+" "+topic+" "+m.UUID)
	}
	return p.err
}

func (recordingPublisher) Close() error { return nil }

func TestMirroringPublisher(t *testing.T) {
	streamDown := errors.New("stream down")
	channelDown := errors.New("channel down")
	cases := []struct {
		name                  string
		topic                 string
		streamErr, channelErr error
		wantLog               []string
		wantErr               error
	}{
		{"a mirrored topic goes to the stream, then the channel", "line_allocated", nil, nil,
			[]string{"stream line_allocated m1", "channel line_allocated m1"}, nil},
		{"other topics stay on streams", "allocation.events.Allocated", nil, nil,
			[]string{"stream allocation.events.Allocated m1"}, nil},
		{"nothing reaches the channel before the stream has it", "line_allocated", streamDown, nil,
			[]string{"stream line_allocated m1"}, streamDown},
		{"a channel failure is returned, to be retried", "line_allocated", nil, channelDown,
			[]string{"stream line_allocated m1", "channel line_allocated m1"}, channelDown},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			p := redispubsub.NewMirroringPublisher(
				recordingPublisher{name: "stream", log: &log, err: tt.streamErr},
				recordingPublisher{name: "channel", log: &log, err: tt.channelErr},
				"line_allocated")
			err := p.Publish(tt.topic, message.NewMessage("m1", []byte(`{}`)))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(log, tt.wantLog) {
				t.Errorf("published %q, want %q", log, tt.wantLog)
			}
		})
	}
}
