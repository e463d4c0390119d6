package redispubsub

// Names of the bridge's own keys, under the topic prefix (TOPIC_PREFIX) like
// the channels and streams, so that deployments sharing one Redis keep apart.
const (
	leaseKeyName       = "allocation.redis-pubsub-bridge.lease"
	publishedKeyPrefix = "allocation.redis-pubsub-bridge.published."
)

// LeaseKey is the key of a deployment's inbound bridge lease; its value
// names the process that holds it.
func LeaseKey(topicPrefix string) string { return topicPrefix + leaseKeyName }

// publishedKey marks a message as published on the channel of topic for
// the de-duplication window.
func publishedKey(topicPrefix, topic, messageUUID string) string {
	return topicPrefix + publishedKeyPrefix + topic + "." + messageUUID
}
