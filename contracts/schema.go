package contracts

import (
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.schema.json
var schemaFiles embed.FS

// Schema returns the contract's JSON Schema document.
func (c Contract) Schema() ([]byte, error) {
	return schemaFiles.ReadFile(c.SchemaFile())
}

// Validator checks payloads against one contract's schema. The schema file
// is the single source of truth: nothing is validated by hand.
type Validator struct {
	contract Contract
	schema   *jsonschema.Schema
}

// NewValidator compiles the contract's embedded schema.
func NewValidator(c Contract) (*Validator, error) {
	raw, err := c.Schema()
	if err != nil {
		return nil, fmt.Errorf("contract %s: %w", c, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("contract %s: schema is not JSON: %w", c, err)
	}
	// The schema's own $id, so that it is compiled under the name it
	// declares; no other resource is loaded from anywhere.
	url := c.SchemaFile()
	if m, ok := doc.(map[string]any); ok {
		if id, ok := m["$id"].(string); ok && id != "" {
			url = id
		}
	}
	compiler := jsonschema.NewCompiler()
	if err := compiler.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("contract %s: %w", c, err)
	}
	schema, err := compiler.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("contract %s: %w", c, err)
	}
	return &Validator{contract: c, schema: schema}, nil
}

func (v *Validator) Contract() Contract { return v.contract }

// Validate returns nil when payload is JSON that the schema accepts, and a
// *ViolationError saying why not otherwise.
func (v *Validator) Validate(payload []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return &ViolationError{Contract: v.contract, Reasons: []string{"not valid JSON: " + err.Error()}}
	}
	if err := v.schema.Validate(doc); err != nil {
		return &ViolationError{Contract: v.contract, Reasons: violationReasons(err)}
	}
	return nil
}

// ViolationError is a payload that breaks its contract. Reasons name the
// place in the payload and what is wrong there, e.g.
// "/qty: minimum: got -1, want 0".
type ViolationError struct {
	Contract Contract
	Reasons  []string
}

func (e *ViolationError) Error() string {
	return fmt.Sprintf("payload breaks contract %s: %s", e.Contract, strings.Join(e.Reasons, "; "))
}

// maxReasonBytes bounds one reason: the validator quotes the value, which
// may be megabytes of an oversized field.
const maxReasonBytes = 512

func boundReason(r string) string {
	if len(r) <= maxReasonBytes {
		return r
	}
	return strings.ToValidUTF8(r[:maxReasonBytes], "") + "...(cut)"
}

// violationReasons flattens the validator's error tree into its leaves,
// which are the readable part.
func violationReasons(err error) []string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []string{err.Error()}
	}
	var reasons []string
	var walk func(u jsonschema.OutputUnit)
	walk = func(u jsonschema.OutputUnit) {
		if len(u.Errors) == 0 && u.Error != nil {
			location := u.InstanceLocation
			if location == "" {
				location = "/"
			}
			reasons = append(reasons, boundReason(location+": "+u.Error.String()))
		}
		for _, child := range u.Errors {
			walk(child)
		}
	}
	walk(*ve.DetailedOutput())
	sort.Strings(reasons)
	if len(reasons) == 0 {
		reasons = []string{ve.Error()}
	}
	return reasons
}
