package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"allocation/app"
	"allocation/domain"
)

type allocateRequest struct {
	OrderID *string `json:"orderid"`
	SKU     *string `json:"sku"`
	Qty     *int    `json:"qty"`
}

func (r allocateRequest) command() (*domain.Allocate, error) {
	if err := firstError(required("orderid", r.OrderID), required("sku", r.SKU), required("qty", r.Qty)); err != nil {
		return nil, err
	}
	return &domain.Allocate{OrderID: *r.OrderID, SKU: *r.SKU, Qty: *r.Qty}, nil
}

func (s *Server) allocate(c *gin.Context) {
	cmd, err := decodeCommand[*domain.Allocate, allocateRequest](c)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	if prefersAsync(c.Request) {
		s.allocateAsync(c, cmd)
		return
	}
	batchRef, err := s.app.Allocate.Handle(c.Request.Context(), cmd)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"batchref": batchRef})
}

// allocateAsync sends the command through the command bus: the caller gets
// 202 at once and follows Location to see the result. A broker that fails
// or does not take the command within the request's deadline gets the
// caller a 503 at once, to try again: allocating is idempotent, so a
// command the broker took after all does no harm.
func (s *Server) allocateAsync(c *gin.Context, cmd *domain.Allocate) {
	// The answer comes before the handler runs, so bad input is refused here.
	if err := cmd.Validate(); err != nil {
		s.abortWithError(c, err)
		return
	}
	ctx := c.Request.Context()
	sent := make(chan error, 1)
	go func() { sent <- s.commands.Send(ctx, cmd) }()
	var err error
	select {
	case err = <-sent:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.abortWithError(c, app.UnavailableError{Dependency: "broker", Err: err})
		return
	}
	location := "/allocations/" + url.PathEscape(cmd.OrderID)
	c.Header("Location", location)
	c.Header("Preference-Applied", "respond-async")
	c.JSON(http.StatusAccepted, gin.H{"orderid": cmd.OrderID, "location": location})
}

// prefersAsync reads RFC 7240's Prefer header.
func prefersAsync(r *http.Request) bool {
	for _, header := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(header, ",") {
			token, _, _ := strings.Cut(pref, ";")
			if strings.EqualFold(strings.TrimSpace(token), "respond-async") {
				return true
			}
		}
	}
	return false
}
