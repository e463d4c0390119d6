package natsbroker

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"allocation/adapters/messagebus"
	"allocation/contracts"
)

// marshaler sends the payload alone as the body and the metadata as
// headers (Watermill's NATSMarshaler), and reads any message, also one
// from a plain client without Watermill's headers.
type marshaler struct{}

func (marshaler) Marshal(topic string, msg *message.Message) (*nats.Msg, error) {
	m, err := (&wmnats.NATSMarshaler{}).Marshal(topic, msg)
	if err != nil {
		return nil, err
	}
	m.Header.Set(nats.MsgIdHdr, deduplicationID(msg))
	return m, nil
}

// ReplayOfKey is the metadata key with the poison queue entry a message
// was replayed from ("<stream>/<sequence>").
const ReplayOfKey = "replay_of"

// deduplicationID is the Nats-Msg-Id by which JetStream drops a re-send
// within the duplicate window: the UUID, so that a relay's re-sends of an
// event are dropped, but distinct for each parking of a message and for
// each replay of a parked one, which are new messages with the same UUID.
func deduplicationID(msg *message.Message) string {
	if at := msg.Metadata.Get(messagebus.ParkedAtKey); at != "" {
		return msg.UUID + "/parked/" + at
	}
	if entry := msg.Metadata.Get(ReplayOfKey); entry != "" {
		return msg.UUID + "/replay/" + entry
	}
	return msg.UUID
}

// Unmarshal never fails: a message it refused would be delivered again
// and again, never acknowledged nor parked.
func (marshaler) Unmarshal(m *nats.Msg) (*message.Message, error) {
	md, err := m.Metadata()
	if err != nil { // not from JetStream
		return decode(m.Header, m.Data, "", 0), nil
	}
	msg := decode(m.Header, m.Data, md.Stream, md.Sequence.Stream)
	// The stream's order, which consumers of change_batch_quantity order
	// changes by; the time first keeps the order across a stream recreated
	// from sequence 1.
	msg.Metadata.Set(contracts.BrokerOrderKey, fmt.Sprintf("%d-%d", md.Timestamp.UnixMilli(), md.Sequence.Stream))
	return msg, nil
}

// decode builds a message from a stored one. Its UUID is Watermill's
// header, else the Nats-Msg-Id of a plain client, else derived from the stream
// position, so that a redelivery keeps the UUID handlers de-duplicate on.
func decode(header nats.Header, data []byte, stream string, seq uint64) *message.Message {
	id := header.Get(wmnats.WatermillUUIDHdr)
	if id == "" {
		id = header.Get(nats.MsgIdHdr)
	}
	if id == "" && seq > 0 {
		id = uuid.NewSHA1(uuid.NameSpaceURL, []byte("nats:"+stream+":"+strconv.FormatUint(seq, 10))).String()
	}
	if id == "" {
		id = watermill.NewUUID()
	}
	msg := message.NewMessage(id, data)
	for k, v := range header {
		switch k {
		case wmnats.WatermillUUIDHdr, nats.MsgIdHdr, nats.ExpectedLastMsgIdHdr, nats.ExpectedStreamHdr, nats.ExpectedLastSubjSeqHdr, nats.ExpectedLastSeqHdr:
			continue
		}
		msg.Metadata.Set(k, strings.Join(v, ", "))
	}
	return msg
}
