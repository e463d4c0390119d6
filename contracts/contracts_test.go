package contracts

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestEverySchemaCompilesAndNamesItsContract(t *testing.T) {
	for _, c := range []Contract{ChangeBatchQuantityV1, LineAllocatedV1} {
		v, err := NewValidator(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if v.Contract() != c {
			t.Errorf("validator of %s says %s", c, v.Contract())
		}
		raw, _ := c.Schema()
		var doc struct {
			ID    string `json:"$id"`
			Title string `json:"title"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(doc.ID, "/"+c.SchemaFile()) {
			t.Errorf("%s: $id %q does not end in its file name", c, doc.ID)
		}
	}
}

// The inbound contract: what the schema accepts and refuses, with the
// reason a sender is told.
func TestChangeBatchQuantityV1(t *testing.T) {
	v, err := NewValidator(ChangeBatchQuantityV1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		payload string
		reason  string // empty: valid
	}{
		{`{"batchref":"b1","qty":5}`, ""},
		{`{"batchref":"b1","qty":0}`, ""},
		{`{"qty":5,"batchref":"b1"}`, ""},
		{`{"batchref":"b1","qty":5.0}`, ""},
		{`{"batchref":"b1","qty":5,"note":"added by a newer producer"}`, ""},
		{`{"batchref":"b1","qty":-1}`, "/qty: minimum"},
		{`{"batchref":"b1","qty":2147483648}`, "/qty: maximum"},
		{`{"batchref":"b1","qty":1000000000}`, ""},
		{`{"batchref":"b1","qty":1000000001}`, "/qty: maximum"},
		{`{"batchref":"日本 é-🙂","qty":1}`, ""},
		{`{"batchref":"` + strings.Repeat("é", 255) + `","qty":1}`, ""},
		{`{"batchref":"` + strings.Repeat("r", 256) + `","qty":1}`, "/batchref: maxLength"},
		{`{"batchref":"b\u0000","qty":1}`, "does not match pattern"},
		{`{"batchref":"b\u202e1","qty":1}`, "does not match pattern"},
		{`{"batchref":"X\r\nReply-To: x","qty":1}`, "does not match pattern"},
		{`{"batchref":"   ","qty":1}`, "does not match pattern"},
		{`{"batchref":" b1","qty":1}`, "does not match pattern"},
		{`{"batchref":"b1","qty":5.5}`, "/qty: got number, want integer"},
		{`{"batchref":"b1","qty":"5"}`, "/qty: got string, want integer"},
		{`{"batchref":"b1","qty":null}`, "/qty: got null, want integer"},
		{`{"batchref":5,"qty":5}`, "/batchref: got number, want string"},
		{`{"batchref":"","qty":5}`, "/batchref: minLength"},
		{`{"qty":5}`, "missing property 'batchref'"},
		{`{"batchref":"b1"}`, "missing property 'qty'"},
		{`{}`, "missing properties 'batchref', 'qty'"},
		{`[]`, "got array, want object"},
		{`null`, "got null, want object"},
		{`{"batchref":"b1","qty":5`, "not valid JSON"},
		{`{"batchref":"b1","qty":5} trailing`, "not valid JSON"},
		{``, "not valid JSON"},
	}
	huge := v.Validate([]byte(`{"batchref":"` + strings.Repeat("r", 5<<20) + `","qty":1}`))
	if huge == nil || len(huge.Error()) > 2048 || !strings.Contains(huge.Error(), "/batchref: maxLength") {
		t.Errorf("a 5 MB batchref: %.300v (%d bytes), want a short reason naming batchref", huge, len(huge.Error()))
	}
	for _, tt := range tests {
		err := v.Validate([]byte(tt.payload))
		if tt.reason == "" {
			if err != nil {
				t.Errorf("%s: %v, want valid", tt.payload, err)
			}
			continue
		}
		var violation *ViolationError
		if !errors.As(err, &violation) {
			t.Errorf("%s: %v, want a ViolationError", tt.payload, err)
			continue
		}
		if violation.Contract != ChangeBatchQuantityV1 || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: %q, want it to say %q", tt.payload, err, tt.reason)
		}
	}
}

// The golden outbound payload (written by adapters/external's tests)
// keeps to its schema, and the schema refuses internal fields.
func TestLineAllocatedV1(t *testing.T) {
	v, err := NewValidator(LineAllocatedV1)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/line_allocated.v1.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(golden); err != nil {
		t.Errorf("golden payload: %v", err)
	}
	for payload, reason := range map[string]string{
		`{"orderid":"o1","sku":"LAMP","qty":10,"batchref":"b1","version":3}`: "additional properties 'version'",
		`{"orderid":"o1","sku":"LAMP","qty":0,"batchref":"b1"}`:              "/qty: minimum",
		`{"orderid":"o1","sku":"LAMP","qty":10}`:                             "missing property 'batchref'",
	} {
		if err := v.Validate([]byte(payload)); err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: %v, want it to say %q", payload, err, reason)
		}
	}
}
