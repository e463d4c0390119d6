package messagebus

// Topic names. Commands and events live under the service's own prefix so
// that they never mix with the external topics other services read.
const (
	commandTopicPrefix = "allocation.commands."
	eventTopicPrefix   = "allocation.events."
	// PoisonTopic receives messages that failed for good, with the reason,
	// the original topic and the handler in their metadata.
	PoisonTopic = "allocation.poison"
)

// CommandTopic is the topic of a command, by its name (e.g. "Allocate").
func CommandTopic(name string) string { return commandTopicPrefix + name }

// EventTopic is the topic of an event, by its name (e.g. "Allocated").
func EventTopic(name string) string { return eventTopicPrefix + name }

// ConsumerGroup is the consumer group of a handler: one per handler, so
// that every handler of an event gets every event.
func ConsumerGroup(handlerName string) string { return "allocation." + handlerName }
