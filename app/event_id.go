package app

import (
	"github.com/google/uuid"

	"allocation/domain"
)

// eventIDNamespace makes event ids name-based UUIDs (v5) of the event's key.
var eventIDNamespace = uuid.MustParse("6f1c2a52-4d7e-4f0b-9a53-3c1b8c0d2e11")

// EventID is the stable id of an event: the same fact always gets the same
// id, which is used as the message UUID so that consumers can drop
// duplicates.
func EventID(e domain.Event) string {
	return uuid.NewSHA1(eventIDNamespace, []byte(e.Key())).String()
}
