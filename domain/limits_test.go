package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIdentifiersAreBoundedPrintableAndNotBlank(t *testing.T) {
	for _, ok := range []string{"b1", "LAMP-ø", "日本語の商品", "with inner space", strings.Repeat("é", MaxIdentifierLength), "emoji-🙂"} {
		if err := ValidateIdentifier("sku", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for value, reason := range map[string]string{
		"":                                "empty",
		"   ":                             "blank",
		"\u00a0":                          "blank",
		" lead":                           "begin or end",
		"trail ":                          "begin or end",
		"nul\x00":                         "U+0000",
		"X\r\nReply-To: evil@example.com": "U+000D",
		"tab\tin":                         "U+0009",
		"del\x7f":                         "U+007F",
		"c1\u0085":                        "U+0085",
		"rtl\u202eoverride":               "U+202E",
		"isolate\u2066":                   "U+2066",
		"zero\u200bwidth":                 "U+200B",
		"bom\ufeff":                       "U+FEFF",
		"line\u2028sep":                   "U+2028",
		"private\ue000":                   "U+E000",
		"\xff\xfe":                        "UTF-8",
		strings.Repeat("a", MaxIdentifierLength+1): "at most 255",
		strings.Repeat("x", 100_000):               "at most 255",
	} {
		err := ValidateIdentifier("orderid", value)
		var v ValidationError
		if !errors.As(err, &v) || v.Field != "orderid" || !strings.Contains(v.Reason, reason) {
			t.Errorf("%q: err = %v, want a refusal of orderid mentioning %q", value, err, reason)
		}
	}
}

func TestQuantitiesAndDatesWithinWhatStoresHold(t *testing.T) {
	if _, err := NewOrderLine("o", "s", MaxQuantity); err != nil {
		t.Errorf("largest quantity refused: %v", err)
	}
	for _, qty := range []int{0, -1, MaxQuantity + 1, 1 << 31, 1 << 62} {
		if _, err := NewOrderLine("o", "s", qty); !isField(err, "qty") {
			t.Errorf("order line qty %d: %v", qty, err)
		}
		if _, err := NewBatch("b", "s", qty, nil); !isField(err, "qty") {
			t.Errorf("batch qty %d: %v", qty, err)
		}
	}
	p, _ := NewProduct("s")
	if err := p.AddBatch("b", 10, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.ChangeBatchQuantity("b", 0); err != nil {
		t.Errorf("change to 0: %v", err)
	}
	for _, qty := range []int{-1, MaxQuantity + 1} {
		if err := p.ChangeBatchQuantity("b", qty); !isField(err, "qty") {
			t.Errorf("change to %d: %v", qty, err)
		}
	}
	if err := p.ChangeBatchQuantity(strings.Repeat("r", 5<<20), 1); !isField(err, "ref") || len(err.Error()) > 200 {
		t.Errorf("change of a 5 MB ref: %.200v", err)
	}
	for _, eta := range []time.Time{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := NewBatch("b", "s", 1, &eta); !isField(err, "eta") {
			t.Errorf("eta %v: %v", eta, err)
		}
	}
	for _, eta := range []time.Time{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)} {
		if _, err := NewBatch("b", "s", 1, &eta); err != nil {
			t.Errorf("eta %v refused: %v", eta, err)
		}
	}
	if _, err := NewProduct(" s"); !isField(err, "sku") {
		t.Errorf("product sku with a leading space: %v", err)
	}
}

func isField(err error, field string) bool {
	var v ValidationError
	return errors.As(err, &v) && v.Field == field
}
