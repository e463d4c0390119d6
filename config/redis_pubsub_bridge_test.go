package config

import (
	"bytes"
	"strings"
	"testing"
)

func TestRedisPubSubBridgeIsOnUnlessTurnedOff(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want bool
	}{
		{"default", nil, nil, true},
		{"env false", map[string]string{"REDIS_PUBSUB_BRIDGE": "false"}, nil, false},
		{"env true", map[string]string{"REDIS_PUBSUB_BRIDGE": "true"}, nil, true},
		{"flag false", nil, []string{"--redis-pubsub-bridge=false"}, false},
		{"flag wins over env", map[string]string{"REDIS_PUBSUB_BRIDGE": "false"}, []string{"--redis-pubsub-bridge"}, true},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("allocation", tt.args, env(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if c.RedisPubSubBridge != tt.want {
				t.Fatalf("RedisPubSubBridge = %v, want %v", c.RedisPubSubBridge, tt.want)
			}
		})
	}
}

func TestRedisPubSubBridgeRefusesWhatIsNotABoolean(t *testing.T) {
	_, err := Load("allocation", nil, env(map[string]string{"REDIS_PUBSUB_BRIDGE": "sometimes"}), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "REDIS_PUBSUB_BRIDGE") {
		t.Fatalf("err = %v, want one naming REDIS_PUBSUB_BRIDGE", err)
	}
	var help bytes.Buffer
	_, _ = Load("allocation", []string{"--help"}, env(nil), &help)
	if !strings.Contains(help.String(), "-redis-pubsub-bridge") || !strings.Contains(help.String(), "REDIS_PUBSUB_BRIDGE") {
		t.Fatalf("help does not mention the bridge:\n%s", help.String())
	}
}
