// Package contracts holds the messages this service exchanges with other
// services: the external topics, the versioned JSON Schemas of their
// payloads (the *.schema.json files beside this one, embedded) and the
// payload types that are encoded and decoded against them.
//
// The schemas describe payloads only. The envelope around them is the
// broker's: the message UUID, an optional correlation id and an optional
// W3C trace context (traceparent, tracestate), as plain fields of a Redis
// stream entry (uuid, correlation_id, traceparent, tracestate) or keys of
// the SQL broker's metadata column; each schema's description says so.
//
// A contract changes only by adding a new version (a new schema file);
// testdata/ keeps golden payloads so that an accidental change of an
// outbound payload fails a test.
package contracts

// External topics.
const (
	// ChangeBatchQuantityTopic is inbound: ChangeBatchQuantityV1 payloads.
	ChangeBatchQuantityTopic = "change_batch_quantity"
	// LineAllocatedTopic is outbound: LineAllocatedV1 payloads.
	LineAllocatedTopic = "line_allocated"
)

// Metadata keys of external messages.
const (
	// ContractKey names the contract and version of a payload
	// ("line_allocated.v1") on outbound messages.
	ContractKey = "contract"
	// MalformedReasonKey is set by a broker adapter on a message it could
	// only partly read (for example a Redis stream entry without a payload
	// field). Consumers reject such a message for good with that reason.
	MalformedReasonKey = "malformed_reason"
	// BrokerOrderKey is set by the Redis and NATS subscribers on every
	// message: its place in its stream's order as "<ms>-<seq>" (a Redis
	// entry id; a JetStream message's time and stream sequence), which
	// consumers may rely on (change_batch_quantity's order of changes).
	BrokerOrderKey = "broker_order"
)

// Contract names one version of one payload contract.
type Contract string

const (
	ChangeBatchQuantityV1 Contract = "change_batch_quantity.v1"
	LineAllocatedV1       Contract = "line_allocated.v1"
)

// SchemaFile is the name of the contract's JSON Schema in this folder.
func (c Contract) SchemaFile() string { return string(c) + ".schema.json" }
