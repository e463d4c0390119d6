package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// What the domain accepts, so that everything it accepts every store can
// hold and index, and every message, log line and mail can carry. Each
// refusal is a ValidationError naming the field.
//
// Identifiers (batch ref, sku, order id):
//   - 1 to MaxIdentifierLength characters (Unicode code points, so at most
//     4 × 255 = 1,020 bytes of UTF-8: a pair of them fits a PostgreSQL
//     btree index entry, as the read model's (orderid, sku) key needs);
//   - valid UTF-8;
//   - graphic characters only (Go's unicode.IsGraphic, Unicode as of the
//     Go release: categories L, M, N, P, S and the space separators Zs).
//     So no control characters (C0 such as NUL, CR and LF, DEL, C1), no
//     format characters (bidirectional overrides and isolates such as
//     U+202E, zero-width characters, the byte order mark), no private-use,
//     surrogate or unassigned code points, no line or paragraph separators;
//   - neither beginning nor ending with a space, hence never blank.
//
// Quantities: a batch's purchased quantity and an order line's quantity
// are 1 to MaxQuantity; a batch's quantity may be changed to 0 to
// MaxQuantity. MaxQuantity leaves PostgreSQL's INTEGER (2^31-1) room for
// any batch's allocated total, which never exceeds its purchased quantity.
//
// A batch's eta is a date in the years MinETAYear to MaxETAYear.
const (
	MaxIdentifierLength = 255
	MaxQuantity         = 1_000_000_000
	MinETAYear          = 2000
	MaxETAYear          = 9999
)

// ValidateIdentifier checks a ref, sku or order id against the rules
// above; field names it in the error.
func ValidateIdentifier(field, value string) error {
	if value == "" {
		return ValidationError{Field: field, Reason: "must not be empty"}
	}
	if !utf8.ValidString(value) {
		return ValidationError{Field: field, Reason: "must be valid UTF-8"}
	}
	n := 0
	for i, r := range value {
		n++
		if n > MaxIdentifierLength {
			return ValidationError{Field: field, Reason: fmt.Sprintf("must be at most %d characters", MaxIdentifierLength)}
		}
		if !unicode.IsGraphic(r) {
			return ValidationError{Field: field, Reason: fmt.Sprintf("must not contain the control or format character %U (at byte %d)", r, i)}
		}
	}
	first, _ := utf8.DecodeRuneInString(value)
	last, _ := utf8.DecodeLastRuneInString(value)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		if strings.TrimFunc(value, unicode.IsSpace) == "" {
			return ValidationError{Field: field, Reason: "must not be blank"}
		}
		return ValidationError{Field: field, Reason: "must not begin or end with a space"}
	}
	return nil
}

// ValidateQuantity checks a quantity is within min..MaxQuantity.
func ValidateQuantity(field string, qty, min int) error {
	if qty < min || qty > MaxQuantity {
		return ValidationError{Field: field, Reason: fmt.Sprintf("must be an integer from %d to %d", min, MaxQuantity)}
	}
	return nil
}

// ValidateETA checks an optional date is within MinETAYear..MaxETAYear.
func ValidateETA(eta *time.Time) error {
	if eta == nil {
		return nil
	}
	if y := eta.Year(); y < MinETAYear || y > MaxETAYear {
		return ValidationError{Field: "eta", Reason: fmt.Sprintf("must be a date in the years %d to %d, got %s", MinETAYear, MaxETAYear, eta.Format(time.DateOnly))}
	}
	return nil
}
