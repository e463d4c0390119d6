package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// maxBodyBytes bounds request bodies; ours are a few dozen bytes.
const maxBodyBytes = 1 << 20

// decodeJSON decodes the request body into v and turns every decoding
// failure into a 400 that names the field or the problem.
func decodeJSON(r *http.Request, w http.ResponseWriter, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return describeDecodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequestError{reason: "body: must hold a single JSON object"}
	}
	return nil
}

func describeDecodeError(err error) error {
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return badRequestError{reason: "body: must be a JSON object, got nothing"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syntax):
		return badRequestError{reason: "body: malformed JSON"}
	case errors.As(err, &tooLarge):
		return tooLargeError{limit: tooLarge.Limit}
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequestError{reason: "body: must be a JSON object"}
		}
		return badRequestError{reason: fmt.Sprintf("%s: must be %s, got %s", typeErr.Field, describeType(typeErr.Type.Kind().String()), typeErr.Value)}
	default:
		return badRequestError{reason: "body: " + err.Error()}
	}
}

func describeType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"):
		return "an integer"
	case kind == "string":
		return "a string"
	default:
		return "a " + kind
	}
}

// decodeCommand decodes the body into a request R and R into its command.
func decodeCommand[C any, R interface{ command() (C, error) }](c *gin.Context) (C, error) {
	var req R
	if err := decodeJSON(c.Request, c.Writer, &req); err != nil {
		var none C
		return none, err
	}
	return req.command()
}

// required refuses a field the body left out or set to null.
func required[T any](field string, v *T) error {
	if v == nil {
		return badRequestError{reason: field + ": is required"}
	}
	return nil
}

// firstError returns the first error that is not nil.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// parseETA reads an optional date: null or absent means warehouse stock.
func parseETA(v *string) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	t, err := time.Parse(time.DateOnly, *v)
	if err != nil {
		return nil, badRequestError{reason: fmt.Sprintf("eta: must be a date YYYY-MM-DD or null, got %q", *v)}
	}
	return &t, nil
}

// tooLargeError is a body over maxBodyBytes: 413.
type tooLargeError struct{ limit int64 }

func (e tooLargeError) Error() string { return fmt.Sprintf("body: larger than %d bytes", e.limit) }
